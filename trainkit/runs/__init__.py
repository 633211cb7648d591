"""Finished and running runs, read back: their metrics and what set them apart (``trainkit compare``).

* :mod:`.metrics`: a run's scalars, from its ``metrics.jsonl`` or its TensorBoard event files;
* :mod:`.table`: the comparison table of several runs (final and best values) and its text form;
* :mod:`.plot`: the curves of several runs overlaid in one PNG (matplotlib, an optional extra).
"""
from __future__ import annotations

from .metrics import find_runs, read_event_file, run_scalars
from .table import compare_rows, format_rows, run_labels

__all__ = ["compare_rows", "find_runs", "format_rows", "read_event_file", "run_labels", "run_scalars"]
