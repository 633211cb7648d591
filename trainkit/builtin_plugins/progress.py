"""Progress: a tqdm bar per epoch (loss and lr) and one log line per epoch.

The bar is shown only when stderr is a terminal (``enabled=None``), so logs
of batch jobs and CI stay clean; the per-epoch summary always goes to the
``trainkit`` logger (Python logging). Values that are not numbers are left out
(:func:`trainkit.metric_values.numeric_metrics`).
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Optional

from ..hookspecs import hookimpl
from ..plugins.callback import ConfiguredCallback
from ..metric_values import numeric_metrics

__all__ = ["ProgressBar", "ProgressConf"]

log = logging.getLogger("trainkit.progress")


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if not k.startswith("train/lr/"))


@dataclass
class ProgressConf:
    """``callbacks.progress``: ``enabled: null`` shows the bar only when stderr is a terminal."""

    enabled: Optional[bool] = None
    leave: bool = True


class ProgressBar(ConfiguredCallback):
    """tqdm bar per epoch, postfix ``loss``/``lr`` refreshed every ``log_every`` steps.

    Args:
        enabled: True/False to force; None (default) shows the bar only when
            stderr is a TTY.
        leave: keep finished epoch bars on screen.
    """

    name = "progress"
    default = True
    needs_run_dir = False
    Config = ProgressConf
    #: under strategy="ddp" only rank 0 runs it
    rank_zero_only = True

    @classmethod
    def from_config(cls, conf) -> ProgressBar:
        """The plugin of a ``callbacks.progress`` node."""
        return cls(enabled=conf.enabled, leave=conf.leave)

    def __init__(self, enabled: bool | None = None, leave: bool = True):
        self.enabled = enabled
        self.leave = leave
        self._bar = None
        self._tqdm = None

    def _is_enabled(self) -> bool:
        if self.enabled is not None:
            return bool(self.enabled)
        stream = sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())

    @hookimpl
    def on_fit_start(self, trainer):
        if self._is_enabled():
            from tqdm.auto import tqdm

            self._tqdm = tqdm

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        if self._tqdm is None:
            return
        self._close()
        total = len(trainer.train_loader) if hasattr(trainer.train_loader, "__len__") else None
        self._bar = self._tqdm(total=total, desc=f"epoch {epoch + 1}/{trainer.max_epochs}",
                               leave=self.leave, dynamic_ncols=True)
        if hasattr(trainer.train_loader, "state_dict"):
            self._bar.update(trainer.train_loader.state_dict()["batch"])

    @hookimpl
    def on_batch_end(self, trainer, batch_idx, loss, skipped):
        if self._bar is not None:
            self._bar.update(1)

    @hookimpl
    def on_log(self, trainer, step, metrics):
        if self._bar is None:
            return
        metrics = numeric_metrics(metrics, trainer)
        if "train/loss" not in metrics:
            return
        postfix = {"loss": f"{metrics['train/loss']:.4g}"}
        lrs = [v for k, v in metrics.items() if k.startswith("train/lr/")]
        if lrs:
            postfix["lr"] = f"{lrs[0]:.3g}"
        self._bar.set_postfix(postfix, refresh=False)

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        self._close()
        shown = _fmt(numeric_metrics(metrics, trainer))
        log.info("epoch %d/%d (step %d): %s", epoch + 1, trainer.max_epochs, trainer.global_step, shown)

    @hookimpl
    def on_fit_end(self, trainer, metrics):
        if trainer.stop_reason:
            log.info("%s", trainer.stop_reason)

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @hookimpl
    def on_teardown(self, trainer):
        self._close()


@hookimpl
def register_callbacks(register):
    register("progress", ProgressBar)
