"""Print the final losses of an optimizer sweep as a table (``trainkit compare`` does this and more).

After::

    trainkit train -m experiment=compare_optimizers optimizer=sgd,adam,rmsprop,adagrad

every job of the sweep has its own run directory under ``runs/<time stamp>_<id>_sweep/``.
``tensorboard --logdir runs/<time stamp>_<id>_sweep`` overlays their curves;
``trainkit compare`` prints the final and best metrics per job; this script
shows how to do the same from Python with ``trainkit.runs``::

    python examples/compare_table.py runs/<time stamp>_<id>_sweep
    python examples/compare_table.py            # the newest *_sweep folder under ./runs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainkit.runs import compare_rows, find_runs, run_scalars  # noqa: F401 - run_scalars is part of the example

DEFAULT_COLUMNS = ("train/loss", "val/loss", "val/accuracy")


def table(sweep_dir: Path, columns=DEFAULT_COLUMNS) -> list[tuple[str, dict[str, float | None]]]:
    """``[(label, {column: last value or None}), ...]`` for every run of the sweep."""
    return [(row["label"], row["final"]) for row in compare_rows(find_runs(Path(sweep_dir)), columns)]


def format_table(rows, columns=DEFAULT_COLUMNS) -> str:
    header = ["run", *columns]
    body = [[label, *("-" if v[c] is None else f"{v[c]:.4f}" for c in columns)] for label, v in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def newest_sweep(runs_dir: Path = Path("runs")) -> Path:
    sweeps = sorted(p for p in runs_dir.glob("*_sweep") if p.is_dir())
    if not sweeps:
        raise SystemExit(f"no *_sweep folder under {runs_dir.resolve()}; pass the sweep directory")
    return sweeps[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", nargs="?", help="the sweep folder (default: newest runs/*_sweep)")
    parser.add_argument("--columns", nargs="+", default=list(DEFAULT_COLUMNS), help="scalar tags to show")
    args = parser.parse_args(argv)
    sweep = Path(args.sweep_dir) if args.sweep_dir else newest_sweep()
    rows = table(sweep, args.columns)
    if not rows:
        print(f"no runs under {sweep}", file=sys.stderr)
        return 1
    print(f"{sweep}  ({len(rows)} runs; tensorboard --logdir {sweep})")
    print(format_table(rows, args.columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
