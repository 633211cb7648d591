"""Batch hooks: every training batch and every update, in the Trainer's fixed stage order.

batch start, loss check (``on_train_loss``, the only ``firstresult`` hook),
backward, the optimizer step, the end of the update (``on_step_end``), the end
of the batch, and ``on_log`` whenever new scalars reach the host. Reading a
device value here synchronises the device every batch: prefer the host floats
in ``trainer.metrics``.
"""
from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from .markers import Metrics, Trainer, spec


@spec
def on_batch_start(trainer: "Trainer", batch_idx: int, batch: tuple) -> None:
    """Called for each training batch after it was moved to the device.

    Args:
        batch_idx: 0-based index of the batch within the epoch.
        batch: the batch tuple (``(inputs, targets)``), already on the device.
    """


@spec(firstresult=True)
def on_train_loss(trainer: "Trainer", batch_idx: int, loss: "Tensor") -> bool | None:
    """Called after the loss is computed and before ``zero_grad``/``backward``.

    This is the non-finite-loss check point (the NaN guard). Reading the
    loss value synchronises the device; only implement it when you must.

    Args:
        batch_idx: 0-based index of the batch within the epoch.
        loss: the unscaled loss Tensor of this batch.

    Returns:
        ``False`` to skip this batch (no backward, no update; counted in
        ``trainer.skipped_steps`` when the whole update is skipped), ``None``
        to go on. The first non-None result wins. Raise to stop training.
    """


@spec
def on_after_backward(trainer: "Trainer") -> None:
    """Called after each ``loss.backward()``, before gradient transforms.

    With ``accumulate > 1`` it runs once per micro-batch; the gradients hold
    the sum so far of ``loss / accumulate``.
    """


@spec
def on_before_optimizer_step(trainer: "Trainer", optimizer: Any) -> None:
    """Called after the gradient transforms accepted the update, before ``step()``.

    Gradients are final here (clipped, filtered). ``trainer.last_grad_norm``
    holds the norm a clipping transform reported, or None.

    Args:
        optimizer: the optimizer about to step.
    """


@spec
def on_after_optimizer_step(trainer: "Trainer", optimizer: Any) -> None:
    """Called right after ``optimizer.step()``, before step-interval schedulers.

    Args:
        optimizer: the optimizer that stepped.
    """


@spec
def on_step_end(trainer: "Trainer", step: int, skipped: bool) -> None:
    """Called once per update cycle (every ``accumulate`` batches), at its very end.

    ``trainer.global_step`` has been incremented and step-interval schedulers
    have stepped (unless skipped), so the state is consistent: this is where
    step-based checkpoints are written.

    Args:
        step: ``trainer.global_step`` after this update (1-based count).
        skipped: True when the update was skipped (a transform returned False
            or every batch of the cycle was skipped by ``on_train_loss``).
    """


@spec
def on_batch_end(trainer: "Trainer", batch_idx: int, loss: "Tensor", skipped: bool) -> None:
    """Called at the end of every training batch.

    ``trainer.metrics["train/loss"]`` is refreshed every ``log_every`` steps
    (a host float); prefer it over ``float(loss)``, which synchronises the
    device every batch.

    Args:
        batch_idx: 0-based index of the batch within the epoch.
        loss: the batch's detached, unscaled loss Tensor (still on the device).
        skipped: True when this batch did not contribute to an update.
    """


@spec
def on_log(trainer: "Trainer", step: int, metrics: Metrics) -> None:
    """Called whenever the Trainer transfers new scalars to the host.

    That is every ``log_every`` steps (``train/loss``, ``train/lr/<group>``,
    ``train/grad_norm``, ``train/skipped_steps``) and after each validation
    (``val/*``) and epoch (``time/epoch``). Loggers write exactly these.

    Args:
        step: ``trainer.global_step`` the values belong to.
        metrics: name -> host float, only the values that changed.
    """
