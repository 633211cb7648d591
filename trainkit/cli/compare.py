"""``trainkit compare [runs or sweep dirs]``: the final and best metrics of runs side by side."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import error

__all__ = ["cmd_compare"]


def _newest(runs_dir: Path = Path("runs")) -> Path | None:
    """The newest sweep folder under ``runs/``, else ``runs/`` itself (None when there is none)."""
    sweeps = sorted(p for p in runs_dir.glob("*_sweep") if p.is_dir())
    if sweeps:
        return sweeps[-1]
    return runs_dir if runs_dir.is_dir() else None


def cmd_compare(argv: list[str]) -> int:
    """Print the comparison table (and with ``--plot``, draw the curves) of runs."""
    from ..runs import compare_rows, find_runs, format_rows
    from ..runs.table import DEFAULT_COLUMNS

    parser = argparse.ArgumentParser(
        prog="trainkit compare",
        description="Final and best metrics of runs side by side: a sweep folder, run folders, or runs/ "
                    "(default: the newest runs/*_sweep, else every run under runs/).")
    parser.add_argument("paths", nargs="*", help="sweep or run directories")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_COLUMNS), help="the metrics to show")
    parser.add_argument("--plot", metavar="OUT.png", help="also draw the metrics' curves of every run")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.paths]
    if not paths:
        newest = _newest()
        if newest is None:
            return error("no runs/ folder here: give the sweep or run directories to compare", 1)
        paths = [newest]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        return error(f"no such directory: {', '.join(missing)}", 1)
    runs = find_runs(*paths)
    if not runs:
        return error(f"no runs (metrics.jsonl or TensorBoard events) under {', '.join(map(str, paths))}", 1)
    print(f"{len(runs)} run(s) under {', '.join(map(str, paths))}  "
          f"(curves: tensorboard --logdir {paths[0]})")
    print(format_rows(compare_rows(runs, args.metrics), args.metrics))
    if args.plot:
        from ..runs.plot import plot_runs

        try:
            print(f"trainkit: wrote {plot_runs(runs, Path(args.plot), args.metrics)}")
        except ImportError as exc:
            return error(str(exc), 1)
    return 0
