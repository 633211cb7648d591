"""Regression losses (MSE, L1, smooth L1, Huber): ``reduce(f(input - target))``, one fused node each.

Input and target must have the same shape; a target of another float dtype
is promoted with the input by torch's rule.
"""
from __future__ import annotations

from ....autograd.promotion import promote_tensors
from ....autograd.function import Function
from ....autograd.tensor import Tensor
from ....backend import get_array_module
from .._utils import check_reduction
from .reduction import check_same_shape, grad_scale, reduce_loss

__all__ = ["MSEFunction", "L1Function", "SmoothL1Function", "HuberFunction",
           "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]


class _PointwiseLoss(Function):
    """``reduce(f(input - target))``; subclasses give ``value(d)`` and ``slope(d)``."""

    def forward(self, input, target, reduction="mean", param=None):
        self.param, self.reduction = param, reduction
        self.d = input - target
        return reduce_loss(self.value(self.d), reduction)

    def backward(self, g):
        gi = self.slope(self.d) * grad_scale(g, self.reduction, self.d.size, self.d.dtype)
        return (gi if self.needs_input_grad[0] else None), (-gi if self.needs_input_grad[1] else None)


class MSEFunction(_PointwiseLoss):
    def value(self, d):
        return d * d

    def slope(self, d):
        return 2 * d


class L1Function(_PointwiseLoss):
    def value(self, d):
        return get_array_module(d).abs(d)

    def slope(self, d):
        return get_array_module(d).sign(d)


class SmoothL1Function(_PointwiseLoss):
    def value(self, d):
        xp, beta = get_array_module(d), self.param
        a = xp.abs(d)
        if beta == 0:
            return a
        t = d.dtype.type
        return xp.where(a < t(beta), t(0.5) * d * d / t(beta), a - t(0.5 * beta))

    def slope(self, d):
        xp, beta = get_array_module(d), self.param
        if beta == 0:
            return xp.sign(d)
        return xp.clip(d / d.dtype.type(beta), -1, 1)


class HuberFunction(_PointwiseLoss):
    def value(self, d):
        xp, t = get_array_module(d), d.dtype.type
        a = xp.abs(d)
        return xp.where(a < t(self.param), t(0.5) * d * d, t(self.param) * (a - t(0.5 * self.param)))

    def slope(self, d):
        return get_array_module(d).clip(d, -self.param, self.param)


def _pointwise(cls, op, input, target, reduction, param=None):
    check_reduction(reduction)
    check_same_shape(input, target, op)
    if not isinstance(target, Tensor):
        target = Tensor._wrap(input.xp.asarray(target, dtype=input.dtype), False)
    elif target.dtype != input.dtype:
        input, target = promote_tensors(input, target)  # torch's rule: float32 with int64 is float32
    return cls.apply(input, target, reduction=reduction, param=param)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error ``(input - target) ** 2``."""
    return _pointwise(MSEFunction, "mse_loss", input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error ``|input - target|`` (gradient 0 where they are equal)."""
    return _pointwise(L1Function, "l1_loss", input, target, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Quadratic below ``beta`` (divided by beta), linear above; ``beta=0`` is L1."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _pointwise(SmoothL1Function, "smooth_l1_loss", input, target, reduction, float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Quadratic below ``delta``, ``delta``-scaled linear above (``delta * smooth_l1(beta=delta)``)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _pointwise(HuberFunction, "huber_loss", input, target, reduction, float(delta))
