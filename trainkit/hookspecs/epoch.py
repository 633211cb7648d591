"""Epoch hooks: the start of each epoch, the end of each validation pass, the end of each epoch.

``on_validation_end`` is where early stopping decides (``trainer.should_stop``);
``on_epoch_end`` sees a consistent state, where epoch checkpoints are written.
"""
from __future__ import annotations

from .markers import Metrics, Trainer, spec


@spec
def on_epoch_start(trainer: "Trainer", epoch: int) -> None:
    """Called before the first batch of each epoch (after ``loader.set_epoch``).

    Args:
        epoch: the 0-based epoch about to run (``trainer.epoch``).
    """


@spec
def on_validation_end(trainer: "Trainer", metrics: Metrics) -> None:
    """Called after each validation pass, before plateau schedulers step.

    Args:
        metrics: ``{"val/loss": ..., "val/accuracy": ...}`` (accuracy only for
            classification: 2-D outputs and integer targets), host floats.

    Returns:
        Nothing; the return value is ignored. Set ``trainer.should_stop =
        True`` to end training after this epoch (early stopping).
    """


@spec
def on_epoch_end(trainer: "Trainer", epoch: int, metrics: Metrics) -> None:
    """Called at the end of each epoch, after validation and epoch schedulers.

    The training state is consistent here (a checkpoint written now resumes
    at the next epoch).

    Args:
        epoch: the 0-based epoch that just finished.
        metrics: ``trainer.metrics`` (train, val and time metrics so far).
    """
