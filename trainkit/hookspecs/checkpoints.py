"""Checkpoint hooks: a plugin saves its own state into a checkpoint and restores it on resume.

A plugin's state lives under ``checkpoint["plugins"][<its name>]``, so
checkpoints written with and without a plugin stay loadable by each other.
"""
from __future__ import annotations

from .markers import Checkpoint, Trainer, spec


@spec
def on_save_checkpoint(trainer: "Trainer", checkpoint: Checkpoint) -> None:
    """Called while a checkpoint is assembled, before it is written.

    Args:
        checkpoint: the state being saved. A plugin stores its own state under
            ``checkpoint["plugins"][<its name>]``, using only dicts with str
            keys, lists, str/int/float/bool/None and numpy/cupy arrays.
    """


@spec
def on_load_checkpoint(trainer: "Trainer", checkpoint: Checkpoint) -> None:
    """Called when training resumes: after the model weights, the counters and the
    loader position were restored, and before the optimizer, the schedulers and
    the RNG are.

    A plugin restores its own state here and rebuilds any structure it added
    during training (the ``unfreeze`` plugin re-adds its param groups), so the
    saved optimizer and scheduler states fit. ``trainer.should_stop``,
    ``stop_reason`` and ``stopped_by`` are already restored: a plugin that
    stopped the run may clear them when its new settings let training go on
    (early stopping with a raised patience). Work that needs the fully
    restored state belongs in ``on_fit_start``, which runs after loading.

    Args:
        checkpoint: the loaded state; a plugin reads
            ``checkpoint["plugins"].get(<its name>)`` (absent for a plugin that
            was not active when it was saved).
    """
