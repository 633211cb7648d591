"""Multi-class losses (cross-entropy, NLL) over ``(N, C, d1, ...)`` inputs, one fused node each.

Targets are class indices (integers in ``[0, n_classes)`` unless equal to
``ignore_index``, checked before any arithmetic) or, for ``cross_entropy``,
class probabilities of the input's shape. Float targets shaped like indices
are an error rather than a silent probability interpretation.
"""
from __future__ import annotations

import numpy as np

from ....autograd.function import Function
from ....autograd.tensor import Tensor
from ....backend import get_array_module
from .._utils import check_reduction
from ..activation import log_softmax_array
from . import _ce_kernels

__all__ = ["ClassIndexLossFunction", "ClassProbLossFunction", "cross_entropy", "nll_loss"]


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


def _softmax_lse(x2):
    """(softmax, logsumexp) of the rows of ``x2`` in three passes over a single (M, C) buffer."""
    xp = get_array_module(x2)
    m = x2.max(axis=1, keepdims=True)
    probs = x2 - m
    xp.exp(probs, out=probs)
    total = probs.sum(axis=1, keepdims=True)
    probs /= total
    return probs, (m + xp.log(total))[:, 0]


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
        self.fused = None
        if from_logits and x.dtype in (np.float32, np.float64) and x.size:
            out = self._fused_forward(x, target, weight, ignore_index, reduction, label_smoothing)
            if out is not None:
                return out
        xp = get_array_module(x)
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2, t = _to_rows(x), target.reshape(-1)
        valid = t != ignore_index
        tsafe = xp.where(valid, t, 0)
        rows = xp.arange(t.shape[0])
        wi = (weight[tsafe] * valid) if weight is not None else valid.astype(x.dtype)
        # from logits, keep softmax(x) (backward's only big operand) and logsumexp per row, never
        # materialising log-softmax: logp[i, j] = x[i, j] - lse[i]
        probs, lse = _softmax_lse(x2) if from_logits else (None, 0)
        picked = x2[rows, tsafe] - lse
        nll = -picked * wi
        ls = x.dtype.type(label_smoothing)
        smooth = None
        if label_smoothing > 0:
            wsum = weight.sum() if weight is not None else c
            row_sum = (x2 @ weight if weight is not None else x2.sum(axis=1)) - lse * wsum
            smooth = -row_sum * valid
        self.save = (x.shape, target.shape, probs, tsafe, valid, wi, weight, c, from_logits)
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

    def _fused_forward(self, x, target, weight, ignore_index, reduction, ls):
        """The row kernels of :mod:`._ce_kernels` (numba / cupy); None where they cannot run."""
        xp = get_array_module(x)
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2, t = _to_rows(x), target.reshape(-1)
        valid = t != ignore_index
        tsafe = xp.where(valid, t, 0)
        wi = (weight[tsafe] * valid) if weight is not None else valid.astype(x.dtype)
        denom = wi.sum()
        scale = 1.0
        if reduction == "mean" and float(denom) != 0:  # all weights 0: gradient 0 (as torch), not NaN
            scale = 1.0 / float(denom)
        alpha = wi.astype(xp.float64) * ((1 - ls) * scale)
        beta = valid * (ls / c * scale) if ls > 0 else xp.zeros(t.shape[0])
        big_w = float(weight.sum()) if weight is not None else float(c)
        need = self.needs_input_grad[0]
        if xp is np:
            rows = _ce_kernels.rows_numba(x2, tsafe, alpha, beta, weight, big_w, need)
            if rows is None:
                return None
        else:
            rows = _ce_kernels.rows_cupy(x2, tsafe, alpha, beta, weight, big_w, need)
        lse, wx, self.fused = rows
        self.xshape, self.reduction = x.shape, reduction
        nll = (lse - x2[xp.arange(t.shape[0]), tsafe]) * wi
        if ls > 0:
            nll = (1 - ls) * nll + (ls / c) * (lse * big_w - wx) * valid
        if reduction == "none":
            return nll.astype(x.dtype).reshape(target.shape)
        total = nll.sum()
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: NaN, as torch
                total = total / denom
        return xp.asarray(total, dtype=x.dtype)

    def backward(self, g):
        if self.fused is not None:  # the gradient of the loss was written in forward; scale it by g
            grad = self.fused
            if self.reduction == "none":
                grad = grad * g.reshape(-1, 1)
            elif not (isinstance(g, np.ndarray) and g.size == 1 and g.reshape(()) == 1):
                grad = grad * g
            return _from_rows(grad, self.xshape), None
        xshape, tshape, probs, tsafe, valid, wi, weight, c, from_logits = self.save
        xp = get_array_module(wi)
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
        picked = -(1 - ls) * coef * wi  # d loss / d logp[i, t_i]
        per_row = (ls / c) * coef * valid if ls > 0 else None  # -d loss / d logp[i, j] / weight[j]
        rows = xp.arange(tsafe.shape[0])
        if from_logits:
            # d/dx = g_logp - softmax * rowsum(g_logp): one pass over the saved softmax
            row_sum = picked - (per_row * (weight.sum() if weight is not None else c) if ls > 0 else 0)
            grad = probs * -row_sum[:, None].astype(probs.dtype, copy=False)
        else:
            grad = xp.zeros((tsafe.shape[0], c), dtype=wi.dtype)
        grad[rows, tsafe] += picked
        if ls > 0:
            grad -= per_row[:, None] * (weight[None, :] if weight is not None else 1)
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
    w = weight.array if isinstance(weight, Tensor) else input.xp.asarray(weight)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if tuple(w.shape) != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got {tuple(w.shape)}")
    return w.astype(input.dtype, copy=False)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits ``(N, C, ...)`` against class indices or probabilities."""
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = target.array if isinstance(target, Tensor) else input.xp.asarray(target)
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
    t = target.array if isinstance(target, Tensor) else input.xp.asarray(target)
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
