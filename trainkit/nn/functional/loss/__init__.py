"""Losses as fused autograd nodes: one forward and one closed-form backward each.

Shape rules are checked before any arithmetic: regression losses require
``input.shape == target.shape`` (torch only warns and broadcasts, which
silently turns (N, 1) vs (N,) into an (N, N) loss); class-index targets must
lie in ``[0, n_classes)`` unless equal to ``ignore_index``.

One module per family, :mod:`.regression`, :mod:`.classification` and
:mod:`.binary`, on the shared :mod:`.reduction` rules; every name is
re-exported here, so ``trainkit.nn.functional.loss.mse_loss`` still works.
"""
from .binary import (
    BCEFunction,
    BCEWithLogitsFunction,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
)
from .classification import (
    ClassIndexLossFunction,
    ClassProbLossFunction,
    cross_entropy,
    nll_loss,
)
from .regression import (
    HuberFunction,
    L1Function,
    MSEFunction,
    SmoothL1Function,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)

__all__ = [
    "BCEFunction",
    "BCEWithLogitsFunction",
    "ClassIndexLossFunction",
    "ClassProbLossFunction",
    "HuberFunction",
    "L1Function",
    "MSEFunction",
    "SmoothL1Function",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]
