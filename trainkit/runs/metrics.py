"""A run's scalars read back: ``{tag: [(step, value), ...]}``.

Every run writes ``metrics.jsonl`` (the ``metrics_file`` callback: one JSON
object per log call) and TensorBoard event files. ``metrics.jsonl`` is read when
present; otherwise the event files are (TFRecord files of ``Event`` protocol
buffers, parsed with tensorboardX's own message classes, so the ``tensorboard``
package is not needed).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

__all__ = ["METRICS_FILE", "find_runs", "job_order", "read_event_file", "run_scalars"]

#: The per-run metrics file the ``metrics_file`` callback writes.
METRICS_FILE = "metrics.jsonl"


def read_event_file(event_file: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in one TensorBoard event file, in file order.

    A run still being written may end in an incomplete record: it is ignored.
    """
    from ..tensorboardx import tensorboardx

    tensorboardx()  # tensorboardX/__init__ imports its writer, and the writer torch: not here
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
            break
        event = Event.FromString(record)
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars


def _read_metrics_file(path: Path) -> dict[str, list[tuple[int, float]]]:
    scalars: dict[str, list[tuple[int, float]]] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut off by a killed run
        for tag, value in row.get("metrics", {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                scalars.setdefault(tag, []).append((int(row.get("step", 0)), float(value)))
    return scalars


def run_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run directory, by tag: from ``metrics.jsonl``, else from its event files."""
    run_dir = Path(run_dir)
    if (run_dir / METRICS_FILE).is_file():
        return _read_metrics_file(run_dir / METRICS_FILE)
    merged: dict[str, list[tuple[int, float]]] = {}
    for event_file in sorted(run_dir.rglob("events.out.tfevents.*")):
        for tag, points in read_event_file(event_file).items():
            merged.setdefault(tag, []).extend(points)
    return merged


def job_order(path: Path):
    """Sort key of run directories: a sweep's jobs by their number (``10_...`` after ``9_...``), others after."""
    head = path.name.split("_", 1)[0]
    return (int(head), path.name) if head.isdigit() else (1 << 30, str(path))


def find_runs(*paths: Path) -> list[Path]:
    """The run directories in or under ``paths`` (a run, a sweep, ``runs/``), in job order.

    A run directory holds ``metrics.jsonl`` or TensorBoard event files (directly
    or in its ``tensorboard/`` folder).
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        for marker in [*path.rglob(METRICS_FILE), *path.rglob("events.out.tfevents.*")]:
            run = marker.parent
            if run.name == "tensorboard":
                run = run.parent
            found.add(run)
    return sorted(found, key=job_order)
