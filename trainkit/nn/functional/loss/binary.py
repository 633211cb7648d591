"""Binary losses (BCE on probabilities, BCE with logits), element-wise, one fused node each.

Input and target must have the same shape; ``weight`` and ``pos_weight``
need only broadcast to it. Logs are clamped at -100 as in torch, and the
logits form is computed without overflow.
"""
from __future__ import annotations

import numpy as np

from ....autograd.function import Function
from ....autograd.tensor import Tensor
from ....backend import get_array_module
from .._utils import check_reduction
from .reduction import check_same_shape, grad_scale, reduce_loss

__all__ = ["BCEFunction", "BCEWithLogitsFunction", "binary_cross_entropy", "binary_cross_entropy_with_logits"]


class BCEFunction(Function):
    def forward(self, x, y, weight=None, reduction="mean"):
        xp = get_array_module(x)
        t = x.dtype.type
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100 like torch
            logx = xp.maximum(xp.log(x), t(-100))
            log1mx = xp.maximum(xp.log1p(-x), t(-100))
        loss = -(y * logx + (1 - y) * log1mx)
        if weight is not None:
            loss = loss * weight
        self.save = (x, y, weight, logx, log1mx)
        self.reduction = reduction
        return reduce_loss(loss, reduction)

    def backward(self, g):
        x, y, w, logx, log1mx = self.save
        xp = get_array_module(x)
        scale = grad_scale(g, self.reduction, x.size, x.dtype)
        if w is not None:
            scale = scale * w
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = (x - y) / xp.maximum((1 - x) * x, x.dtype.type(1e-12)) * scale
        if self.needs_input_grad[1]:
            gy = (log1mx - logx) * scale
        return gx, gy


class BCEWithLogitsFunction(Function):
    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        xp = get_array_module(x)
        # softplus(-x) = log(1 + exp(-x)) computed without overflow
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        lw = 1 + (pos_weight - 1) * y if pos_weight is not None else None
        loss = (1 - y) * x + (lw * sp if lw is not None else sp)
        if weight is not None:
            loss = loss * weight
        self.save = (x, y, weight, pos_weight, lw, sp)
        self.reduction = reduction
        return reduce_loss(loss, reduction)

    def backward(self, g):
        x, y, w, pw, lw, sp = self.save
        xp = get_array_module(x)
        t = x.dtype.type
        scale = grad_scale(g, self.reduction, x.size, x.dtype)
        if w is not None:
            scale = scale * w
        sig = t(0.5) * (xp.tanh(t(0.5) * x) + 1)
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = ((sig - y) if lw is None else (1 - y) - lw * (1 - sig)) * scale
        if self.needs_input_grad[1]:
            gy = (-x + ((pw - 1) * sp if pw is not None else 0)) * scale
        return gx, gy


def _binary_weight(weight, input, op, name="weight"):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else input.xp.asarray(weight)
    try:
        np.broadcast_shapes(tuple(w.shape), tuple(input.shape))
    except ValueError:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} does not broadcast to input shape {tuple(input.shape)}"
        ) from None
    return w.astype(input.dtype, copy=False)


def _binary_target(input, target, op):
    check_same_shape(input, target, op)
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:
            return Tensor._wrap(target.array.astype(input.dtype), False)
        return target
    return Tensor._wrap(input.xp.asarray(target, dtype=input.dtype), False)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-w (y log x + (1 - y) log(1 - x))`` for probabilities ``x``; logs clamped at -100 like torch."""
    check_reduction(reduction)
    target = _binary_target(input, target, "binary_cross_entropy")
    w = _binary_weight(weight, input, "binary_cross_entropy")
    x = input.array
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    return BCEFunction.apply(input, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step; ``pos_weight`` scales the positive term."""
    check_reduction(reduction)
    target = _binary_target(input, target, "binary_cross_entropy_with_logits")
    w = _binary_weight(weight, input, "binary_cross_entropy_with_logits")
    pw = _binary_weight(pos_weight, input, "binary_cross_entropy_with_logits", "pos_weight")
    return BCEWithLogitsFunction.apply(input, target, weight=w, pos_weight=pw, reduction=reduction)
