"""The training scalars a Trainer reports every ``log_every`` updates: the mean loss since the last
report, each param group's lr, the global gradient norm and the skipped updates.

The loss is summed on the device and the gradient norm is computed only when a
report is due (or taken from a clipping transform that already computed it), so
the loop synchronises with the device once per report, not once per step.
"""
from __future__ import annotations

from .nn.utils import grad_norm

__all__ = ["TrainLog"]


def _params(optimizer):
    return (p for g in optimizer.param_groups for p in g["params"])


class TrainLog:
    """Accumulates between reports; :meth:`report` builds the ``train/*`` metrics of one ``on_log``."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.loss_count = 0
        #: the last computed global gradient 2-norm (a device scalar until reported)
        self.last_grad_norm = None
        self._norm_step = -1  # the global step whose gradients ``last_grad_norm`` measured

    @property
    def pending(self) -> bool:
        """Losses were added since the last report."""
        return self.loss_count > 0

    def add_loss(self, loss_array) -> None:
        self.loss_sum = self.loss_sum + loss_array
        self.loss_count += 1

    def before_step(self, trainer, norm_from_transform) -> None:
        """Just before ``optimizer.step()`` of update ``global_step + 1``: keep the gradient norm when a
        report is due after it (the clipping transform's, else computed now)."""
        if norm_from_transform is not None:
            self.last_grad_norm = norm_from_transform
        if (trainer.global_step + 1) % trainer.log_every == 0:
            if norm_from_transform is None:
                self.last_grad_norm = grad_norm(_params(trainer.optimizer))
            self._norm_step = trainer.global_step + 1

    def report(self, trainer) -> dict[str, float]:
        """The ``train/*`` metrics now (host floats), resetting the loss average."""
        metrics: dict[str, float] = {}
        if self.loss_count:
            metrics["train/loss"] = float(self.loss_sum) / self.loss_count
            self.loss_sum, self.loss_count = 0.0, 0
        for i, group in enumerate(trainer.optimizer.param_groups):
            metrics[f"train/lr/{group.get('name', i)}"] = float(group["lr"])
        if self._norm_step != trainer.global_step and not trainer.grad_transforms:
            # a report between log steps (epoch end, max_steps): the last update's gradients
            norm = grad_norm(_params(trainer.optimizer))
            if norm is not None:
                self.last_grad_norm, self._norm_step = norm, trainer.global_step
        if self.last_grad_norm is not None:
            metrics["train/grad_norm"] = float(self.last_grad_norm)
        metrics["train/skipped_steps"] = float(trainer.skipped_steps)
        return metrics
