"""What every loss shares: the ``reduction`` of per-element losses and its gradient, and shape checks.

Shape rules are checked before any arithmetic: element-wise losses require
``input.shape == target.shape`` (torch only warns and broadcasts, which
silently turns (N, 1) vs (N,) into an (N, N) loss).
"""
from __future__ import annotations

__all__ = ["reduce_loss", "grad_scale", "check_same_shape"]


def reduce_loss(loss, reduction):
    """Per-element ``loss`` reduced by ``reduction`` (``"mean"``, ``"sum"``, or ``"none"``: as is)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def grad_scale(g, reduction, count, dtype):
    """Upstream gradient of a reduced loss as a per-element factor."""
    if reduction == "mean":
        return g / dtype.type(max(count, 1)) if count else g * dtype.type(float("nan"))
    return g


def check_same_shape(input, target, op):
    """Raise a ValueError naming ``op`` and both shapes unless ``input`` and ``target`` match exactly."""
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ; "
            "reshape one of them (e.g. target.view(-1, 1) or output.squeeze(1)) so they match"
        )
