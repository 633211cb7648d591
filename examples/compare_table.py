"""Print the final losses of an optimizer sweep as a table, read from its TensorBoard event files.

After::

    trainkit train -m experiment=compare_optimizers optimizer=sgd,adam,rmsprop,adagrad

every job of the sweep has its own run directory under ``runs/<time stamp>_<id>_sweep/``
(``0_experiment=compare_optimizers,optimizer=sgd``, ...) with a ``tensorboard/``
folder. ``tensorboard --logdir runs/<time stamp>_<id>_sweep`` overlays their curves;
this script prints the last value of each scalar per run::

    python examples/compare_table.py runs/<time stamp>_<id>_sweep
    python examples/compare_table.py            # the newest *_sweep folder under ./runs

The event files are TFRecord files of ``Event`` protocol buffers; they are read
here with tensorboardX's own message classes (a trainkit dependency), so the
``tensorboard`` package is not needed.
"""
from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import yaml

DEFAULT_COLUMNS = ("train/loss", "val/loss", "val/accuracy")


def read_scalars(event_file: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in one event file, in file order."""
    from tensorboardX.proto.event_pb2 import Event

    scalars: dict[str, list[tuple[int, float]]] = {}
    data = Path(event_file).read_bytes()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        start = pos + 12  # 8 bytes length + 4 bytes its CRC
        record = data[start:start + length]
        pos = start + length + 4  # + the data's CRC
        if len(record) < length:
            break  # a run still being written: ignore the incomplete tail
        event = Event.FromString(record)
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars


def run_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run directory (all event files under it, merged by tag)."""
    merged: dict[str, list[tuple[int, float]]] = {}
    for event_file in sorted(run_dir.rglob("events.out.tfevents.*")):
        for tag, points in read_scalars(event_file).items():
            merged.setdefault(tag, []).extend(points)
    return merged


def run_overrides(run_dir: Path) -> list[str]:
    """The command-line overrides of a job, from Hydra's ``.hydra/overrides.yaml`` ([] if absent)."""
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.is_file():
        return []
    return [str(o) for o in (yaml.safe_load(overrides.read_text()) or [])]


def run_labels(runs: list[Path]) -> list[str]:
    """One label per run: the overrides that differ between the runs (``optimizer=adam``), else the folder name."""
    per_run = [run_overrides(r) for r in runs]
    common = set.intersection(*map(set, per_run)) if len(per_run) > 1 else set()
    labels = []
    for run, items in zip(runs, per_run):
        shown = [o for o in items if o not in common]
        labels.append(" ".join(shown) if shown else run.name)
    return labels


def find_runs(sweep_dir: Path) -> list[Path]:
    """Run directories (those holding TensorBoard events) under ``sweep_dir``, in job order."""
    runs = {p.parent.parent for p in sweep_dir.rglob("tensorboard/events.out.tfevents.*")}

    def job_number(p: Path):
        head = p.name.split("_", 1)[0]
        return (int(head), p.name) if head.isdigit() else (1 << 30, p.name)

    return sorted(runs, key=job_number)


def table(sweep_dir: Path, columns=DEFAULT_COLUMNS) -> list[tuple[str, dict[str, float | None]]]:
    """``[(label, {column: last value or None}), ...]`` for every run of the sweep."""
    rows = []
    runs = find_runs(sweep_dir)
    for run, label in zip(runs, run_labels(runs)):
        scalars = run_scalars(run)
        last = {}
        for col in columns:
            points = scalars.get(col) or scalars.get(f"hparams/{col}")
            last[col] = sorted(points, key=lambda p: p[0])[-1][1] if points else None  # at the last step
        rows.append((label, last))
    return rows


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
        print(f"no TensorBoard runs under {sweep}", file=sys.stderr)
        return 1
    print(f"{sweep}  ({len(rows)} runs; tensorboard --logdir {sweep})")
    print(format_table(rows, args.columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
