"""Early stopping: end training when a monitored metric stops improving."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..hookspecs import hookimpl
from ..plugins.callback import ConfiguredCallback

__all__ = ["EarlyStopping", "EarlyStoppingConf"]

log = logging.getLogger("trainkit.early_stopping")


@dataclass
class EarlyStoppingConf:
    """``callbacks.early_stopping``: stop when ``monitor`` has not improved for ``patience`` validations."""

    enabled: bool = False
    monitor: str = "val/loss"
    mode: str = "min"
    patience: int = 5
    min_delta: float = 0.0


class EarlyStopping(ConfiguredCallback):
    """Sets ``trainer.should_stop`` after ``patience`` validations without improvement.

    The metric is checked after each validation. A Trainer without a
    ``val_loader`` never validates: the metric (e.g. ``train/loss``) is then
    checked at every epoch end, and monitoring a ``val/`` metric is an error
    at the start of the fit (it would never fire). On resume of a run this
    plugin stopped, training continues only if ``patience`` was raised above
    the saved count.

    Args:
        monitor: the metric to watch (e.g. ``"val/loss"``, ``"val/accuracy"``).
        mode: ``"min"`` (lower is better) or ``"max"``.
        patience: validations without improvement before stopping.
        min_delta: an improvement must beat the best value by more than this.
    """

    name = "early_stopping"
    default = False
    needs_run_dir = False
    Config = EarlyStoppingConf

    def __init__(self, monitor: str = "val/loss", mode: str = "min", patience: int = 3, min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0

    def improved(self, value: float) -> bool:
        """True when ``value`` beats the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    @hookimpl
    def on_fit_start(self, trainer):
        if trainer.val_loader is None and self.monitor.startswith("val/"):
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, but the run has no validation data, so it would "
                "never stop: give the Trainer a val_loader or monitor a training metric such as 'train/loss'"
            )

    @hookimpl
    def on_validation_end(self, trainer, metrics):
        self._check(trainer, {**trainer.metrics, **metrics})

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        if trainer.val_loader is None:
            self._check(trainer, metrics)

    def _check(self, trainer, merged) -> None:
        if self.monitor not in merged:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which is not a metric of this run; "
                f"available metrics: {', '.join(sorted(merged))}"
            )
        value = float(merged[self.monitor])
        if self.improved(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            trainer.stopped_by = self.name
            trainer.stop_reason = (
                f"early stopping: {self.monitor} did not improve on {self.best:.6g} "
                f"for {self.wait} validation(s) (patience {self.patience}, min_delta {self.min_delta})"
            )
            log.info("%s", trainer.stop_reason)

    def state_dict(self) -> dict:
        """The best value and the validations waited (saved in every checkpoint by the Trainer)."""
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = float(state["best"]), int(state["wait"])

    @hookimpl
    def on_load_checkpoint(self, trainer, checkpoint):
        """A run this plugin stopped goes on when ``patience`` was raised above the saved count."""
        if getattr(trainer, "stopped_by", None) == self.name and self.wait < self.patience:
            trainer.should_stop, trainer.stop_reason, trainer.stopped_by = False, None, None


@hookimpl
def register_callbacks(register):
    register("early_stopping", EarlyStopping)
