"""``ReduceLROnPlateau``: cut the lr when a monitored metric stops improving."""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

from .base import EPOCH_DEPRECATION_WARNING, LRScheduler, check_optimizer, group_values


class MissingMetricError(KeyError):
    """A plateau scheduler's monitored metric is not among the metrics of the run."""

    def __init__(self, monitor: str, available):
        self.monitor = monitor
        self.available = sorted(available)
        listing = ", ".join(self.available) if self.available else "(none yet: has validation run?)"
        super().__init__(
            f"ReduceLROnPlateau monitors {monitor!r}, but the run has no such metric. "
            f"Available metrics: {listing}. Set the scheduler's `monitor` to one of them."
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


def monitored_value(metrics: Mapping, monitor: str) -> float:
    """``float(metrics[monitor])``, or :class:`MissingMetricError` listing the metrics that exist."""
    if monitor not in metrics:
        raise MissingMetricError(monitor, metrics.keys())
    return float(metrics[monitor])


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` once the metric has not improved for ``patience`` epochs.

    Unlike the other schedulers it takes no initial step and its ``step()``
    needs the metric value: ``sched.step(val_loss)``. The Trainer calls it
    after validation with ``metrics[sched.monitor]``.

    Args:
        optimizer: wrapped optimizer.
        mode: ``"min"`` (metric should decrease) or ``"max"``.
        factor: lr multiplier on a plateau (< 1).
        patience: number of non-improving epochs tolerated before reducing.
        threshold: minimum change that counts as an improvement.
        threshold_mode: ``"rel"`` (``best * (1 -/+ threshold)``) or ``"abs"`` (``best -/+ threshold``).
        cooldown: epochs to wait after a reduction before counting bad epochs again.
        min_lr: lower bound of the lr (one value, or one per group).
        eps: a reduction smaller than this is ignored.
        monitor: trainkit extension, keyword only: the metric name the
            Trainer feeds to ``step`` (default ``"val/loss"``).
    """

    _state_keys = (
        "factor", "min_lrs", "default_min_lr", "patience", "cooldown", "eps", "best",
        "cooldown_counter", "num_bad_epochs", "mode", "threshold", "threshold_mode",
        "mode_worse", "monitor",
    )
    _common_keys = ("last_epoch", "_last_lr")

    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr=0,
        eps: float = 1e-8,
        *,
        monitor: str = "val/loss",
    ) -> None:
        if factor >= 1.0:
            raise ValueError(f"Factor should be < 1.0, got factor={factor}")
        check_optimizer(optimizer)
        self.factor = factor
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.monitor = monitor
        self.last_epoch = 0
        self._last_lr = group_values(optimizer, "lr")
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode, threshold, threshold_mode) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown! Use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown! Use 'rel' or 'abs'")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` improves on ``best`` under mode and threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None) -> None:  # noqa: D417 - torch's signature
        """Record one epoch's metric value and reduce the lr after ``patience`` bad epochs."""
        if isinstance(metrics, Mapping):
            metrics = monitored_value(metrics, self.monitor)
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def step_from(self, metrics: Mapping) -> None:
        """``step(metrics[self.monitor])``; a missing metric raises :class:`MissingMetricError`."""
        self.step(monitored_value(metrics, self.monitor))

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the optimizer ({len(groups)}) differs from when "
                    f"ReduceLROnPlateau was initialized ({len(self.min_lrs)}), usually because a "
                    "param group was added; set `min_lrs` to one value per group."
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new

    def follow_new_group(self, group: dict) -> None:
        """A group added later gets the scalar ``min_lr`` (a per-group ``min_lr`` list cannot grow)."""
        if self.default_min_lr is None:
            raise ValueError(
                f"ReduceLROnPlateau was given one min_lr per param group ({self.min_lrs}); a group "
                f"added later ({group.get('name', len(self.optimizer.param_groups) - 1)!r}) has none. "
                "Give min_lr as one number, or build the scheduler after adding the group"
            )
        self.min_lrs.append(self.default_min_lr)
        self._last_lr = group_values(self.optimizer, "lr")

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
