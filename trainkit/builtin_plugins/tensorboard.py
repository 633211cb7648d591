"""TensorBoard: scalars, hyperparameters and final metrics through tensorboardX.

tensorboardX is imported only when the plugin starts (``on_fit_start``), so
``import trainkit`` and runs without TensorBoard never pay for it. Everything
goes into one run directory (``<run_dir>/tensorboard`` by default): the
scalars the Trainer reports through ``on_log`` (``train/loss``,
``train/lr/<group>``, ``train/grad_norm``, ``train/skipped_steps``,
``val/loss``, ``val/accuracy``, ``time/epoch``) and, at the end, the hparams
summary with the final metrics written into the same writer (tensorboardX's
``add_hparams`` would start a separate sub-run). Events are flushed at each
epoch end and on an exception (Ctrl-C and SIGTERM included: the Trainer turns
them into ``TrainingInterrupted``, see :mod:`trainkit.interrupts`); at teardown
the writer is closed, which writes every queued event, in a daemon thread
given ``close_timeout`` seconds, so a writer that blocks cannot keep the
process from exiting. Values that are not numbers are left out
(:func:`trainkit.metric_values.numeric_metrics`).

Metric names become valid TensorBoard tags through :class:`TagNames`: param
group names such as ``unfreeze:features.*`` hold characters TensorBoard does
not accept, which tensorboardX would rewrite with a log message on every call.
"""
from __future__ import annotations

import logging
import os
import time
import re
from dataclasses import dataclass
from pathlib import Path

from ..hookspecs import hookimpl
from ..plugins.callback import ConfiguredCallback
from ..interrupts import call_with_timeout
from ..metric_values import numeric_metrics

__all__ = ["TagNames", "TensorBoardConf", "TensorBoardLogger"]

log = logging.getLogger("trainkit.tensorboard")


#: Characters TensorBoard accepts in a tag: word characters, ``-``, ``/`` and ``.``
#: (the rule tensorboardX applies, so a cleaned tag passes through it unchanged).
_INVALID_TAG_CHARS = re.compile(r"[^-/\w.]")


class TagNames:
    """Maps metric names to valid, unique TensorBoard tags, computing each mapping once.

    An invalid character becomes ``_`` and leading slashes are dropped (as
    tensorboardX would do, but silently and once per name). Two different
    metric names never share a tag: the later one gets a ``_2``, ``_3``, ...
    suffix, and every name keeps its tag for the whole run.
    """

    def __init__(self) -> None:
        self._tags: dict[str, str] = {}
        self._used: set[str] = set()

    def __call__(self, name: str) -> str:
        tag = self._tags.get(name)
        if tag is not None:
            return tag
        base = _INVALID_TAG_CHARS.sub("_", str(name)).lstrip("/") or "_"
        tag, n = base, 1
        while tag in self._used:
            n += 1
            tag = f"{base}_{n}"
        if tag != name:
            log.debug("metric %r is logged to TensorBoard as %r", name, tag)
        self._tags[name] = tag
        self._used.add(tag)
        return tag


def _hparam_value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass
class TensorBoardConf:
    """``callbacks.tensorboard``: event files in ``<run dir>/tensorboard``."""

    enabled: bool = True
    flush_secs: int = 30


class TensorBoardLogger(ConfiguredCallback):
    """Writes the run's scalars and hparams to TensorBoard event files.

    Args:
        log_dir: the event directory; default ``<trainer.run_dir>/tensorboard``.
        hparams: hyperparameters to record; default: the Trainer's ``config``
            flattened to ``{"optimizer.lr": 0.001, ...}``.
        flush_secs: tensorboardX's background flush interval.
        close_timeout: seconds to wait for the writer to close at teardown before
            giving up with a warning (events still queued are then lost).
    """

    name = "tensorboard"
    default = True
    needs_run_dir = True
    Config = TensorBoardConf
    #: under strategy="ddp" only rank 0 runs it
    rank_zero_only = True

    def __init__(self, log_dir: str | Path | None = None, hparams: dict | None = None, flush_secs: int = 30,
                 close_timeout: float = 10.0):
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.hparams = hparams
        self.flush_secs = flush_secs
        self.close_timeout = close_timeout
        self.writer = None
        self.tags = TagNames()

    # ------------------------------------------------------------------ lifecycle
    @hookimpl
    def on_fit_start(self, trainer):
        from ..tensorboardx import tensorboardx

        SummaryWriter = tensorboardx().SummaryWriter  # imported only when enabled (and without torch)

        log_dir = self.log_dir
        if log_dir is None:
            if trainer.run_dir is None:
                raise ValueError("TensorBoardLogger needs a directory: pass log_dir= or give the Trainer a run_dir")
            log_dir = trainer.run_dir  # the run directory: TensorBoard names the run after it
        self.log_dir = Path(log_dir)
        # tensorboardX names the file events.out.tfevents.<seconds>.<host>: a run resumed within the same
        # second would truncate the file of the run it continues; a suffix per writer keeps both
        suffix = f".{os.getpid()}.{time.time_ns() % 10**9}"
        self.writer = SummaryWriter(logdir=str(self.log_dir), flush_secs=self.flush_secs, filename_suffix=suffix)

    @hookimpl
    def on_log(self, trainer, step, metrics):
        writer, tags = self.writer, self.tags
        for name, value in numeric_metrics(metrics, trainer).items():
            writer.add_scalar(tags(name), value, step)

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        self.flush()

    @hookimpl
    def on_fit_end(self, trainer, metrics):
        """The hparams session of this run: the hyperparameters people compare, and as its metrics the
        run's own scalar tags (the HPARAMS tab reads their last values: no duplicate ``hparams/*`` curves)."""
        from ..hparams import compared_hparams
        from ..tensorboardx import tensorboardx

        hparams_summary = tensorboardx().summary.hparams

        hp = self.hparams if self.hparams is not None else compared_hparams(trainer.config, trainer.run_dir)
        hp = {k: _hparam_value(v) for k, v in hp.items()} or {"run": str(trainer.run_dir)}
        shown = [k for k in numeric_metrics(metrics, trainer) if k.startswith(("val", "train/loss"))]
        exp, ssi, sei = hparams_summary(hp, {self.tags(k): 0.0 for k in shown})
        file_writer = self.writer.file_writer
        for summary in (exp, ssi, sei):
            file_writer.add_summary(summary, trainer.global_step)
        self.flush()

    @hookimpl
    def on_exception(self, trainer, exception):
        self.flush()

    @hookimpl
    def on_teardown(self, trainer):
        if self.writer is not None:
            writer, self.writer = self.writer, None
            call_with_timeout(writer.close, self.close_timeout, f"closing the TensorBoard writer of {self.log_dir}")

    # ------------------------------------------------------------------ helpers
    def flush(self) -> None:
        """Write buffered events to disk now."""
        if self.writer is not None:
            self.writer.flush()


@hookimpl
def register_callbacks(register):
    register("tensorboard", TensorBoardLogger)


