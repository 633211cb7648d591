"""Progress: a tqdm bar per epoch (loss, lr, the last validation metric) and one compact line per epoch.

Where it shows:

* in a terminal: one bar per epoch on stderr; log lines of the run (checkpoints,
  warnings) are written above the bar, not into it (``logging_redirect_tqdm``),
  and each finished epoch leaves one line;
* in a notebook (an IPython kernel): tqdm's notebook bar (``tqdm.auto``);
* anywhere else (a batch job, CI, a pipe): no bar, just the epoch line.

The epoch line goes to the ``trainkit`` logger when logging is set up (the
``trainkit`` command does, so it also lands in the run's ``train.log``), else to
stdout, so ``Trainer.fit()`` from Python is not silent. Numbers are written with
4 significant digits; values that are not numbers are left out
(:func:`trainkit.metric_values.numeric_metrics`).
"""
from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from typing import Optional

from ..hookspecs import hookimpl
from ..metric_values import numeric_metrics
from ..plugins.callback import ConfiguredCallback

__all__ = ["ProgressBar", "ProgressConf", "epoch_line"]

log = logging.getLogger("trainkit.progress")

#: The metrics of the epoch line, in order, with their short names (the rest is in TensorBoard).
_SHOWN = (("train/loss", "loss"), ("val/loss", "val/loss"), ("val/accuracy", "val/acc"))


def epoch_line(trainer, epoch: int, metrics: dict) -> str:
    """``epoch 3/10 step 24: loss 1.05, val/loss 1.06, val/acc 0.48, lr 0.01 (0.91 s)``."""
    parts = [f"{short} {metrics[key]:.4g}" for key, short in _SHOWN if key in metrics]
    lrs = [v for k, v in metrics.items() if k.startswith("train/lr/")]
    if lrs:
        parts.append(f"lr {lrs[0]:.3g}" + ("" if len(set(lrs)) == 1 else f" (+{len(lrs) - 1} groups)"))
    if metrics.get("train/skipped_steps"):
        parts.append(f"skipped {int(metrics['train/skipped_steps'])}")
    took = f" ({metrics['time/epoch']:.3g} s)" if "time/epoch" in metrics else ""
    return f"epoch {epoch + 1}/{trainer.max_epochs} step {trainer.global_step}: {', '.join(parts)}{took}"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ipython = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def _logging_set_up() -> bool:
    """True when records of the ``trainkit`` logger reach a handler (the command line sets one up)."""
    logger = log
    while logger is not None:
        if logger.handlers:
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


@dataclass
class ProgressConf:
    """``callbacks.progress``: ``enabled: null`` shows the bar only in a terminal or a notebook."""

    enabled: Optional[bool] = None
    leave: bool = True


class ProgressBar(ConfiguredCallback):
    """tqdm bar per epoch, postfix ``loss``/``lr``/last ``val`` metric refreshed every ``log_every`` steps.

    Args:
        enabled: True/False to force the bar; None (default) shows it only when
            stderr is a terminal or in a notebook. Without a bar, each epoch ends with one line.
        leave: keep each finished epoch's bar (with its final loss, lr and validation metrics)
            on screen: one line per epoch.
    """

    name = "progress"
    default = True
    needs_run_dir = False
    Config = ProgressConf
    #: under strategy="ddp" only rank 0 runs it
    rank_zero_only = True

    def __init__(self, enabled: bool | None = None, leave: bool = True):
        self.enabled = enabled
        self.leave = leave
        self._bar = None
        self._tqdm = None
        self._redirect = None
        self._postfix: dict[str, str] = {}

    def _is_enabled(self) -> bool:
        if self.enabled is not None:
            return bool(self.enabled)
        return bool(getattr(sys.stderr, "isatty", lambda: False)()) or _in_notebook()

    @hookimpl
    def on_fit_start(self, trainer):
        self._postfix = {}
        if not self._is_enabled():
            return
        from tqdm.auto import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self._tqdm = tqdm
        # log records (checkpoint messages, warnings) are printed above the bar instead of into it
        self._redirect = contextlib.ExitStack()
        self._redirect.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger()], tqdm_class=tqdm))

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        if self._tqdm is None:
            return
        self._close()
        total = len(trainer.train_loader) if hasattr(trainer.train_loader, "__len__") else None
        self._bar = self._tqdm(total=total, desc=f"epoch {epoch + 1}/{trainer.max_epochs}",
                               leave=self.leave, dynamic_ncols=True, file=sys.stderr)
        if hasattr(trainer.train_loader, "state_dict"):
            self._bar.update(trainer.train_loader.state_dict()["batch"])
        if self._postfix:
            self._bar.set_postfix(self._postfix, refresh=False)

    @hookimpl
    def on_batch_end(self, trainer, batch_idx, loss, skipped):
        if self._bar is not None:
            self._bar.update(1)

    @hookimpl
    def on_log(self, trainer, step, metrics):
        metrics = numeric_metrics(metrics, trainer)
        if "train/loss" in metrics:
            self._postfix["loss"] = f"{metrics['train/loss']:.4g}"
        lrs = [v for k, v in metrics.items() if k.startswith("train/lr/")]
        if lrs:
            self._postfix["lr"] = f"{lrs[0]:.3g}"
        for key, short in _SHOWN[1:]:
            if key in metrics:
                self._postfix[short] = f"{metrics[key]:.4g}"
        if self._bar is not None:
            self._bar.set_postfix(self._postfix, refresh=False)

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        metrics = numeric_metrics(metrics, trainer)
        if self._bar is not None:  # the bar, with the epoch's final numbers, is the epoch's line
            for key, short in _SHOWN[1:]:
                if key in metrics:
                    self._postfix[short] = f"{metrics[key]:.4g}"
            self._bar.set_postfix(self._postfix, refresh=True)
            self._close()
            log.debug("%s", epoch_line(trainer, epoch, metrics))
            return
        line = epoch_line(trainer, epoch, metrics)
        if _logging_set_up():
            log.info("%s", line)
        else:
            print(line, flush=True)

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
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None
        self._tqdm = None


@hookimpl
def register_callbacks(register):
    register("progress", ProgressBar)
