"""Checkpointing: periodic full-state checkpoints, the last K kept, plus the best one.

Files live in ``<run_dir>/checkpoints/``: ``step-<global_step>.npz`` (the
newest ``keep_last`` are kept) and ``best.npz`` (a copy of the checkpoint with
the best ``monitor`` value so far). Writing is atomic (see
:mod:`trainkit.checkpoint`); non-finite state is never written. On Ctrl-C or
SIGTERM (``TrainingInterrupted``) the last completed update is saved too, so
``resume=<run dir>`` continues from where the run was stopped.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .. import checkpoint as ckpt
from ..hookspecs import hookimpl
from ..plugins.callback import ConfiguredCallback
from ..interrupts import TrainingInterrupted

__all__ = ["Checkpointing", "CheckpointingConf"]

log = logging.getLogger("trainkit.checkpointing")


@dataclass
class CheckpointingConf:
    """``callbacks.checkpointing``: when checkpoints are written and which are kept."""

    enabled: bool = True
    every_n_epochs: int = 1
    keep_last: int = 2
    monitor: Optional[str] = "val/loss"
    mode: str = "min"
    save_best: bool = True


class Checkpointing(ConfiguredCallback):
    """Write checkpoints every ``every_n_epochs`` epochs and/or ``every_n_steps`` steps.

    Args:
        dirpath: where to write; default ``<trainer.run_dir>/checkpoints``.
        every_n_epochs: save at the end of every n-th epoch (0: never).
        every_n_steps: save after every n-th update (None/0: never).
        keep_last: how many ``step-*.npz`` files to keep (>= 1).
        monitor: metric deciding ``best.npz`` (None: no best copy). A metric
            the run does not produce is warned about once (no ``best.npz``);
            a ``val/`` metric in a run without validation data writes no
            ``best.npz`` silently (the Python default; the command warns).
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        save_last: also save when fit ends, if the last step was not saved yet.
    """

    name = "checkpointing"
    default = True
    needs_run_dir = True
    Config = CheckpointingConf
    #: under strategy="ddp" only rank 0 runs it
    rank_zero_only = True
    #: without the monitored metric there is no ``best.npz``, but checkpoints are still written
    monitor_required = False

    @classmethod
    def from_config(cls, conf) -> Checkpointing:
        """The plugin of a ``callbacks.checkpointing`` node (``save_best=false``: no ``best.npz``)."""
        return cls(every_n_epochs=conf.every_n_epochs, keep_last=conf.keep_last,
                   monitor=conf.monitor if conf.save_best else None, mode=conf.mode)

    def __init__(self, dirpath: str | Path | None = None, every_n_epochs: int = 1,
                 every_n_steps: int | None = None, keep_last: int = 3, monitor: str | None = "val/loss",
                 mode: str = "min", save_last: bool = True):
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"Checkpointing: keep_last must be an int >= 1, got {keep_last!r}")
        for label, value in (("every_n_epochs", every_n_epochs), ("every_n_steps", every_n_steps or 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Checkpointing: {label} must be an int >= 0, got {value!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"Checkpointing: mode must be 'min' or 'max', got {mode!r}")
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.every_n_epochs = every_n_epochs
        self.every_n_steps = every_n_steps or 0
        self.keep_last = keep_last
        self.monitor = monitor
        self.mode = mode
        self.save_last = save_last
        self.best = math.inf if mode == "min" else -math.inf
        self.best_path: Path | None = None
        #: the epoch (completed epochs) and global step at which ``best`` was reached
        self.best_epoch: int | None = None
        self.best_step: int | None = None
        self._saved_step: int | None = None
        self._warned_missing = False

    def _dir(self, trainer) -> Path:
        if self.dirpath is not None:
            return self.dirpath
        if trainer.run_dir is None:
            raise ValueError("Checkpointing needs a directory: pass dirpath= or give the Trainer a run_dir")
        return trainer.run_dir / ckpt.CHECKPOINT_DIRNAME

    def save(self, trainer) -> Path | None:
        """Save now (``step-<global_step>.npz``) and prune old files; None if refused."""
        directory = self._dir(trainer)
        path = trainer.save_checkpoint(ckpt.checkpoint_path(directory, trainer.global_step))
        if path is None:
            return None
        self._saved_step = trainer.global_step
        self._prune(directory)
        log.debug("saved checkpoint %s", path)
        return path

    def _prune(self, directory: Path) -> None:
        for old in ckpt.find_checkpoints(directory)[: -self.keep_last]:
            old.unlink(missing_ok=True)

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    @hookimpl
    def on_fit_start(self, trainer):
        """Remove what a killed checkpoint write left behind (never another live process's file)."""
        for path in ckpt.remove_stale_temp_files(self._dir(trainer)):
            log.info("removed %s, left by an interrupted checkpoint write", path)

    @hookimpl
    def on_step_end(self, trainer, step, skipped):
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.save(trainer)

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        if not self.every_n_epochs or (epoch + 1) % self.every_n_epochs:
            return
        value = metrics.get(self.monitor) if self.monitor else None
        validated = any(k.startswith("val/") for k in metrics)
        missing = self.monitor and value is None and (validated or not self.monitor.startswith("val/"))
        if missing and not self._warned_missing:
            self._warned_missing = True
            warnings.warn(
                f"Checkpointing monitors {self.monitor!r}, which is not a metric of this run, so no best.npz "
                f"is written; available metrics: {', '.join(sorted(metrics))}",
                ckpt.CheckpointWarning,
                stacklevel=2,
            )
        improved = value is not None and math.isfinite(value) and self._better(float(value))
        if improved:
            self.best = float(value)  # recorded before saving, so the checkpoint knows its own best
            self.best_epoch, self.best_step = epoch + 1, trainer.global_step
        path = self.save(trainer)
        if path is not None and improved:
            self.best_path = ckpt.atomic_copy(path, path.parent / "best.npz")
            log.debug("new best %s = %.6g: %s", self.monitor, self.best, self.best_path)

    @hookimpl
    def on_fit_end(self, trainer, metrics):
        if self.save_last and self._saved_step != trainer.global_step and trainer.global_step > 0:
            self.save(trainer)

    @hookimpl
    def on_exception(self, trainer, exception):
        """An interruption (raised only where the state is whole): save the last completed update
        and tell the exception where (the previous good checkpoint when the state is not finite)."""
        if isinstance(exception, TrainingInterrupted) and trainer.global_step > 0:
            exception.checkpoint = self.save(trainer) or trainer.last_checkpoint

    @hookimpl
    def on_load_checkpoint(self, trainer, checkpoint):
        self._saved_step = trainer.global_step  # the checkpoint resumed from is this step's

    def state_dict(self) -> dict:
        """The best value so far and its file (saved in every checkpoint by the Trainer)."""
        return {"best": self.best, "best_path": str(self.best_path) if self.best_path else None,
                "best_epoch": self.best_epoch, "best_step": self.best_step}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_path = Path(state["best_path"]) if state["best_path"] else None
        self.best_epoch, self.best_step = state.get("best_epoch"), state.get("best_step")


@hookimpl
def register_callbacks(register):
    register("checkpointing", Checkpointing)
