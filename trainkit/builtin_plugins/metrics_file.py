"""Metrics file: every logged scalar in ``<run dir>/metrics.jsonl``, for people who do not use TensorBoard.

One JSON object per ``on_log`` call (``{"step": 120, "epoch": 3, "metrics":
{"train/loss": 0.41, ...}}``), appended and flushed as it happens, so a
killed run keeps everything logged until then and a resumed run goes on in the
same file. ``trainkit compare`` reads it; so does any CSV/pandas user
(``pandas.read_json(path, lines=True)``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..hookspecs import hookimpl
from ..metric_values import numeric_metrics
from ..plugins.callback import ConfiguredCallback

__all__ = ["MetricsFile", "MetricsFileConf"]


@dataclass
class MetricsFileConf:
    """``callbacks.metrics_file``: ``<run dir>/metrics.jsonl``, one line per log step and per epoch."""

    enabled: bool = True


class MetricsFile(ConfiguredCallback):
    """Appends each ``on_log`` call's scalars to ``metrics.jsonl`` in the run directory.

    Args:
        path: the file; default ``<trainer.run_dir>/metrics.jsonl``.
    """

    name = "metrics_file"
    default = True
    needs_run_dir = True
    rank_zero_only = True  # under data-parallel training only rank 0 writes the file
    Config = MetricsFileConf

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._fh = None

    @hookimpl
    def on_fit_start(self, trainer):
        if self.path is None:
            if trainer.run_dir is None:
                raise ValueError("MetricsFile needs a file: pass path= or give the Trainer a run_dir")
            self.path = Path(trainer.run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed at teardown

    @hookimpl
    def on_log(self, trainer, step, metrics):
        if self._fh is None:
            return
        # JSON has no NaN/inf: the non-finite values stay in TensorBoard only
        values = {k: v for k, v in numeric_metrics(metrics, trainer).items() if math.isfinite(v)}
        if values:
            self._fh.write(json.dumps({"step": int(step), "epoch": int(trainer.epoch), "metrics": values}) + "\n")
            self._fh.flush()

    @hookimpl
    def on_teardown(self, trainer):
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@hookimpl
def register_callbacks(register):
    register("metrics_file", MetricsFile)
