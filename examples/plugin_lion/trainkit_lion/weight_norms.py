"""A lifecycle hook: the L2 norm of every weight, logged to TensorBoard each epoch.

A plugin module's hooks run in every fit once the plugin is installed. This one
implements ``on_epoch_end(trainer, epoch, metrics)`` and writes
``weights/norm/<parameter name>`` through the writer of the run's TensorBoard
logger (``trainer.plugin("tensorboard")``); runs without TensorBoard (no run
directory, ``callbacks.tensorboard.enabled=false``) are left alone.
"""
from __future__ import annotations

import trainkit
from trainkit.backend import get_array_module


def weight_norms(model) -> dict[str, float]:
    """``{"weights/norm/<name>": ||p||_2}`` for every parameter of ``model`` (host floats)."""
    out = {}
    for name, p in model.named_parameters():
        xp = get_array_module(p.data)
        out[f"weights/norm/{name}"] = float(xp.sqrt(xp.sum(p.data.astype(xp.float64) ** 2)))
    return out


@trainkit.hookimpl
def on_epoch_end(trainer, epoch, metrics):
    """After each epoch: one scalar per parameter at ``trainer.global_step``."""
    logger = trainer.plugin("tensorboard")
    writer = getattr(logger, "writer", None)
    if writer is None:
        return
    for tag, value in weight_norms(trainer.model).items():
        writer.add_scalar(tag, value, trainer.global_step)
