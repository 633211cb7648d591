"""Losses as fused autograd nodes: one forward and one closed-form backward each.

Shape rules are checked before any arithmetic: regression losses require
``input.shape == target.shape`` (torch only warns and broadcasts, which
silently turns (N, 1) vs (N,) into an (N, N) loss); class-index targets must
lie in ``[0, n_classes)`` unless equal to ``ignore_index``.
"""
from __future__ import annotations

import numpy as np

from ...autograd.promotion import promote_tensors
from ...autograd.function import Function
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ._utils import check_reduction
from .activation import log_softmax_array


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _grad_scale(g, reduction, count, dtype):
    """Upstream gradient of a reduced loss as a per-element factor."""
    if reduction == "mean":
        return g / dtype.type(max(count, 1)) if count else g * dtype.type(float("nan"))
    return g


def _same_shape(input, target, op):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ; "
            "reshape one of them (e.g. target.view(-1, 1) or output.squeeze(1)) so they match"
        )


# ---------------------------------------------------------------- regression losses
class _PointwiseLoss(Function):
    """``reduce(f(input - target))``; subclasses give ``value(d)`` and ``slope(d)``."""

    def forward(self, input, target, reduction="mean", param=None):
        self.param, self.reduction = param, reduction
        self.d = input - target
        return _reduce(self.value(self.d), reduction)

    def backward(self, g):
        gi = self.slope(self.d) * _grad_scale(g, self.reduction, self.d.size, self.d.dtype)
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
    _same_shape(input, target, op)
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


# ---------------------------------------------------------------- classification
def _to_rows(x):
    """(N, C, d1, ...) / (N, C) / (C,) -> (M, C) with the class dim last."""
    xp = get_array_module(x)
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(g2, shape):
    xp = get_array_module(g2)
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.moveaxis(g2.reshape(moved), -1, 1)


def _check_class_indices(t, n_classes, ignore_index, op):
    xp = get_array_module(t)
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t.reshape(-1)[int(xp.argmax(bad.reshape(-1)))])
        raise IndexError(
            f"{op}: target class index {value} is out of range for n_classes={n_classes}; "
            f"expected values in [0, {n_classes - 1}] or ignore_index={ignore_index}"
        )


class ClassIndexLossFunction(Function):
    """(Label-smoothed) negative log-likelihood of class indices, optionally from logits."""

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                from_logits=True):
        xp = get_array_module(x)
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2, t = _to_rows(x), target.reshape(-1)
        logp = log_softmax_array(x2, 1) if from_logits else x2
        valid = t != ignore_index
        tsafe = xp.where(valid, t, 0)
        rows = xp.arange(t.shape[0])
        wi = (weight[tsafe] * valid) if weight is not None else valid.astype(x.dtype)
        nll = -logp[rows, tsafe] * wi
        ls = x.dtype.type(label_smoothing)
        smooth = None
        if label_smoothing > 0:
            smooth = -((logp * weight).sum(axis=1) if weight is not None else logp.sum(axis=1)) * valid
        self.save = (x.shape, target.shape, logp, tsafe, valid, wi, weight, c, from_logits)
        self.reduction, self.ls = reduction, ls
        if reduction == "none":
            out = nll if smooth is None else (1 - ls) * nll + ls / c * smooth
            return out.reshape(target.shape)
        total = nll.sum() if smooth is None else (1 - ls) * nll.sum() + ls / c * smooth.sum()
        if reduction == "mean":
            self.denom = wi.sum()
            # every target ignored: 0 / 0 is NaN, as torch; no RuntimeWarning for it
            with np.errstate(invalid="ignore", divide="ignore"):
                return total / self.denom
        return total

    def backward(self, g):
        xshape, tshape, logp, tsafe, valid, wi, weight, c, from_logits = self.save
        xp = get_array_module(logp)
        ls = self.ls
        if self.reduction == "none":
            coef = g.reshape(-1)
        elif self.reduction == "mean":
            # a zero denominator means every weight wi is 0: divide by 1 instead so the
            # gradient is 0 (as torch) rather than 0 * inf = NaN
            coef = g / xp.where(self.denom == 0, self.denom.dtype.type(1), self.denom)
        else:
            coef = g
        coef = xp.broadcast_to(coef, wi.shape)
        grad = xp.zeros_like(logp)
        grad[xp.arange(tsafe.shape[0]), tsafe] = -(1 - ls) * coef * wi
        if ls > 0:
            per_row = (ls / c) * coef * valid
            grad -= per_row[:, None] * (weight[None, :] if weight is not None else 1)
        if from_logits:
            grad -= xp.exp(logp) * grad.sum(axis=1, keepdims=True)
        return _from_rows(grad, xshape), None


class ClassProbLossFunction(Function):
    """Cross-entropy against class probabilities (soft labels), from logits."""

    def forward(self, x, target, weight=None, reduction="mean", label_smoothing=0.0):
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        logp = log_softmax_array(_to_rows(x), 1)
        tt = _to_rows(target)
        if label_smoothing > 0:
            tt = tt * x.dtype.type(1 - label_smoothing) + x.dtype.type(label_smoothing / c)
        wt = tt * weight if weight is not None else tt
        loss = -(logp * wt).sum(axis=1)
        self.save = (x.shape, logp, wt, weight, label_smoothing)
        self.reduction, self.rows = reduction, loss.shape[0]
        if reduction == "none":
            return loss.reshape((x.shape[0],) + tuple(x.shape[2:]) if x.ndim > 1 else ())
        return loss.sum() / x.dtype.type(self.rows) if reduction == "mean" else loss.sum()

    def backward(self, g):
        xshape, logp, wt, weight, ls = self.save
        xp = get_array_module(logp)
        if self.reduction == "none":
            coef = g.reshape(-1, 1)
        elif self.reduction == "mean":
            coef = g / logp.dtype.type(self.rows)
        else:
            coef = g
        gx = gt = None
        if self.needs_input_grad[0]:
            gl = -wt * coef
            gx = _from_rows(gl - xp.exp(logp) * gl.sum(axis=1, keepdims=True), xshape)
        if self.needs_input_grad[1]:
            w = weight if weight is not None else 1
            gt = _from_rows(-logp * w * coef * logp.dtype.type(1 - ls), xshape)
        return gx, gt


def _class_target_check(input, target, op):
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} do not match; "
            f"expected target shape {expected} (class indices) or {tuple(input.shape)} (class probabilities)"
        )


def _weight_array(weight, input, op):
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else input.xp.asarray(weight)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if tuple(w.shape) != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got {tuple(w.shape)}")
    return w.astype(input.dtype, copy=False)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits ``(N, C, ...)`` against class indices or probabilities."""
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = target.data if isinstance(target, Tensor) else input.xp.asarray(target)
    w = _weight_array(weight, input, "cross_entropy")
    if t.dtype.kind == "f":
        if tuple(t.shape) != tuple(input.shape):
            index_shape = () if input.ndim <= 1 else (input.shape[0],) + tuple(input.shape[2:])
            if input.ndim >= 1 and tuple(t.shape) == index_shape:
                raise TypeError(
                    f"cross_entropy: target of shape {tuple(t.shape)} looks like class indices but has "
                    f"dtype {t.dtype}; class indices must be an integer (int64) tensor (use target.long()), "
                    f"or pass class probabilities with the input's shape {tuple(input.shape)}"
                )
            _class_target_check(input, t, "cross_entropy")  # raises with both shapes
        target_t = target if isinstance(target, Tensor) else Tensor._wrap(t.astype(input.dtype), False)
        return ClassProbLossFunction.apply(input, target_t, weight=w, reduction=reduction,
                                           label_smoothing=label_smoothing)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must be integer class indices or float probabilities, got {t.dtype}")
    _class_target_check(input, t, "cross_entropy")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_class_indices(t, c, ignore_index, "cross_entropy")
    return ClassIndexLossFunction.apply(input, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                                        label_smoothing=label_smoothing, from_logits=True)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities ``(N, C, ...)``."""
    check_reduction(reduction)
    t = target.data if isinstance(target, Tensor) else input.xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"nll_loss: target must be integer (int64) class indices, got dtype {t.dtype}; "
            "convert it with target.long()"
        )
    _class_target_check(input, t, "nll_loss")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_class_indices(t, c, ignore_index, "nll_loss")
    w = _weight_array(weight, input, "nll_loss")
    return ClassIndexLossFunction.apply(input, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                                        label_smoothing=0.0, from_logits=False)


# ---------------------------------------------------------------- binary
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
        return _reduce(loss, reduction)

    def backward(self, g):
        x, y, w, logx, log1mx = self.save
        xp = get_array_module(x)
        scale = _grad_scale(g, self.reduction, x.size, x.dtype)
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
        return _reduce(loss, reduction)

    def backward(self, g):
        x, y, w, pw, lw, sp = self.save
        xp = get_array_module(x)
        t = x.dtype.type
        scale = _grad_scale(g, self.reduction, x.size, x.dtype)
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
    w = weight.data if isinstance(weight, Tensor) else input.xp.asarray(weight)
    try:
        np.broadcast_shapes(tuple(w.shape), tuple(input.shape))
    except ValueError:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} does not broadcast to input shape {tuple(input.shape)}"
        ) from None
    return w.astype(input.dtype, copy=False)


def _binary_target(input, target, op):
    _same_shape(input, target, op)
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:
            return Tensor._wrap(target.data.astype(input.dtype), False)
        return target
    return Tensor._wrap(input.xp.asarray(target, dtype=input.dtype), False)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-w (y log x + (1 - y) log(1 - x))`` for probabilities ``x``; logs clamped at -100 like torch."""
    check_reduction(reduction)
    target = _binary_target(input, target, "binary_cross_entropy")
    w = _binary_weight(weight, input, "binary_cross_entropy")
    x = input.data
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
