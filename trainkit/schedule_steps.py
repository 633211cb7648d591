"""When each learning-rate scheduler of a Trainer steps: after every update, at every epoch end,
or (plateau schedulers, those with a ``monitor``) with a metric after validation.

A scheduler's ``interval`` (``"step"`` or ``"epoch"``, the default) decides; a
plateau scheduler without validation data steps at every epoch end with the
epoch's training metrics. Skipped updates do not step anything.
"""
from __future__ import annotations

from .optim.lr_scheduler import MissingMetricError

__all__ = ["ScheduleSteps"]


class ScheduleSteps:
    """The schedulers of one Trainer, sorted by when they step.

    Args:
        scheduler: one scheduler, a list of them, or None.

    Raises:
        ValueError: a scheduler whose ``interval`` is neither ``"step"`` nor ``"epoch"``.
    """

    def __init__(self, scheduler) -> None:
        schedulers = [] if scheduler is None else list(scheduler) if isinstance(scheduler, (list, tuple)) \
            else [scheduler]
        self.all = schedulers
        self.per_step, self.per_epoch, self.plateau = [], [], []
        for i, sched in enumerate(schedulers):
            interval = getattr(sched, "interval", "epoch")
            if hasattr(sched, "monitor"):
                self.plateau.append(sched)
            elif interval == "step":
                self.per_step.append(sched)
            elif interval == "epoch":
                self.per_epoch.append(sched)
            else:
                raise ValueError(
                    f"Trainer: scheduler {i} ({type(sched).__name__}) has interval={interval!r}; "
                    "expected 'epoch' or 'step'"
                )

    def hand_over(self) -> None:
        """Step none of them from now on (another part of the run, ``swa``, sets the lr itself)."""
        self.per_step, self.per_epoch, self.plateau = [], [], []

    def after_update(self) -> None:
        """An update was applied: the step-interval schedulers step."""
        for sched in self.per_step:
            sched.step()

    def at_epoch_end(self, metrics: dict, validated: bool, has_val_data: bool) -> None:
        """The plateau schedulers (after validation, or every epoch without validation data), then the
        epoch-interval ones."""
        if validated or not has_val_data:
            for sched in self.plateau:
                _step_plateau(sched, metrics)
        for sched in self.per_epoch:
            sched.step()


def _step_plateau(sched, metrics: dict) -> None:
    """Step a plateau scheduler with ``metrics[monitor]``; MissingMetricError lists the metrics."""
    if hasattr(sched, "step_from"):
        sched.step_from(metrics)
        return
    if sched.monitor not in metrics:
        raise MissingMetricError(sched.monitor, metrics.keys())
    sched.step(metrics[sched.monitor])
