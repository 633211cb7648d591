"""Reductions and normalisations: sum, mean, var/std, max/min, argmax, softmax.

Dimension arguments follow torch: ``dim`` is an int (or a tuple where torch
accepts one), negative values count from the end, and an out-of-range ``dim``
raises ``IndexError`` naming the accepted range.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from ..backend import get_array_module
from .arithmetic import maximum, minimum
from .dims import normalize_dim, normalize_dims
from .function import Function
from .tensor import Tensor

__all__ = [
    "AMax", "LogSoftmax", "LogSumExp", "MaxDim", "Mean", "Softmax", "StdFromVar", "Sum", "ValuesIndices", "Var",
    "amax", "amin", "argmax", "argmin", "log_softmax", "logsumexp", "max", "mean", "min",
    "softmax", "std", "sum", "var",
]

#: What ``max(dim=...)``/``min(dim=...)`` return, like ``torch.return_types.max``.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _axes(axis, ndim):
    """numpy axis argument for a 0-d-safe reduction."""
    if ndim == 0:
        return None
    return axis


def _reduced_axes(dim, input, op: str):
    """``normalize_dims`` for a reduction: on a 0-d tensor ``dim=0``/``-1`` is accepted (as torch) and means all."""
    axes = normalize_dims(dim, input.ndim, op)
    return None if input.ndim == 0 else axes


def _expand_reduced(g, shape, axis, keepdim):
    """Reshape a reduced gradient so it broadcasts back to ``shape``."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdim:
        g = g.reshape([1 if i in axis else n for i, n in enumerate(shape)])
    return g


def _count(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axis], dtype=np.int64))


class Sum(Function):
    def forward(self, a, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        return a.sum(axis=_axes(axis, a.ndim), keepdims=keepdim)

    def backward(self, g):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        return get_array_module(g).broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, a, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        self.count = builtins.max(_count(a.shape, axis), 1)
        return a.mean(axis=_axes(axis, a.ndim), keepdims=keepdim)

    def backward(self, g):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        return get_array_module(g).broadcast_to(g / g.dtype.type(self.count), self.shape)


class Var(Function):
    """Variance with ``correction`` (1 = unbiased, torch's default; 0 = population)."""

    def forward(self, a, axis=None, keepdim=False, correction=1):
        xp = get_array_module(a)
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        ax = _axes(axis, a.ndim)
        diff = a - a.mean(axis=ax, keepdims=True)
        self.diff = diff
        self.denom = _count(a.shape, axis) - correction
        total = (diff * diff).sum(axis=ax, keepdims=keepdim)
        if self.denom <= 0:  # torch gives nan (0/0) here; avoid numpy's divide warning
            return xp.full_like(total, np.nan)
        return total / a.dtype.type(self.denom)

    def backward(self, g):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        if self.denom <= 0:
            return get_array_module(g).full(self.shape, np.nan, dtype=g.dtype)
        return g * self.diff * g.dtype.type(2.0 / self.denom)


class StdFromVar(Function):
    """``sqrt(var)`` for ``std``: where the std is 0 its gradient is 0 (torch masks it), not inf/nan."""

    name = "std"

    def forward(self, v):
        self.out = get_array_module(v).sqrt(v)
        return self.out

    def backward(self, g):
        xp = get_array_module(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = g / (self.out * 2)
        return xp.where(self.out == 0, g.dtype.type(0), scaled)


class AMax(Function):
    """Max (or min) over axes; ties share the gradient evenly (torch's ``amax``/``max()``)."""

    name = "amax"

    def forward(self, a, axis=None, keepdim=False, largest=True):
        ax = _axes(axis, a.ndim)
        out = a.max(axis=ax, keepdims=True) if largest else a.min(axis=ax, keepdims=True)
        self.a, self.out_keep, self.shape, self.axis = a, out, a.shape, axis
        self.keepdim = keepdim
        if keepdim:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis=axis)

    def backward(self, g):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        mask = (self.a == self.out_keep).astype(g.dtype)
        ax = _axes(self.axis, len(self.shape))
        return mask * (g / mask.sum(axis=ax, keepdims=True))


class MaxDim(Function):
    """Values at given indices along one axis (``max(dim)``/``min(dim)``); gradient to those indices."""

    name = "max"

    def forward(self, a, axis, indices, keepdim=False):
        xp = get_array_module(a)
        idx = xp.expand_dims(indices, axis)
        self.idx, self.axis, self.shape = idx, axis, a.shape
        out = xp.take_along_axis(a, idx, axis=axis)
        return out if keepdim else out.squeeze(axis=axis)

    def backward(self, g):
        xp = get_array_module(g)
        g = xp.expand_dims(g, self.axis) if g.ndim < len(self.shape) else g
        positions = xp.arange(self.shape[self.axis]).reshape(
            [-1 if i == self.axis else 1 for i in range(len(self.shape))]
        )
        return xp.where(positions == self.idx, g, g.dtype.type(0))


class Softmax(Function):
    def forward(self, a, axis):
        xp = get_array_module(a)
        if a.size == 0:  # a zero-size dimension: an empty result of the same shape, as torch
            self.out, self.axis = a.copy(), axis
            return self.out
        e = xp.asarray(a - a.max(axis=axis, keepdims=True))  # asarray: 0-d input gives a scalar
        xp.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        self.out, self.axis = e, axis
        return e

    def backward(self, g):
        out = self.out
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """``x - logsumexp(x)``, computed after subtracting the max so it never overflows."""

    def forward(self, a, axis):
        xp = get_array_module(a)
        if a.size == 0:
            self.out, self.axis = a.copy(), axis
            return self.out
        shifted = xp.asarray(a - a.max(axis=axis, keepdims=True))
        lse = xp.asarray(xp.exp(shifted).sum(axis=axis, keepdims=True))
        xp.log(lse, out=lse)
        shifted -= lse
        self.out, self.axis = shifted, axis
        return shifted

    def backward(self, g):
        xp = get_array_module(g)
        return g - xp.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


class LogSumExp(Function):
    def forward(self, a, axis, keepdim=False):
        xp = get_array_module(a)
        m = a.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, a.dtype.type(0))
        with np.errstate(divide="ignore"):  # an all -inf slice gives -inf, as in torch
            out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
        self.a, self.out_keep, self.axis, self.keepdim = a, out, axis, keepdim
        return out if keepdim else out.squeeze(axis=axis)

    def backward(self, g):
        xp = get_array_module(g)
        g = _expand_reduced(g, self.a.shape, self.axis, self.keepdim)
        return g * xp.exp(self.a - self.out_keep)


# ---------------------------------------------------------------- functional API
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001,A002 - torch.sum
    """Sum over ``dim`` (int, tuple or None for all), keeping reduced axes with ``keepdim``."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    return Sum.apply(input, axis=_reduced_axes(dim, input, "sum"), keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Mean over ``dim``; integer tensors must be cast first, as in torch."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    if input.array.dtype.kind not in "fc":
        raise TypeError(
            f"mean(): could not infer output dtype: input dtype is {input.dtype}; "
            "use a floating point tensor or pass dtype="
        )
    return Mean.apply(input, axis=_reduced_axes(dim, input, "mean"), keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None and unbiased is not None:
        raise TypeError("var/std: pass either unbiased= or correction=, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Variance over ``dim`` with Bessel's ``correction`` (default 1, i.e. unbiased).

    ``unbiased=False`` is ``correction=0``. A bool in the ``dim`` slot is taken
    as ``unbiased`` (torch's older ``var(unbiased)`` overload).
    """
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    axis = _reduced_axes(dim, input, "var")
    return Var.apply(input, axis=axis, keepdim=keepdim, correction=_correction(unbiased, correction))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Standard deviation: ``sqrt(var(...))`` with the same arguments (gradient 0 where it is 0, as torch)."""
    return StdFromVar.apply(var(input, dim, unbiased, keepdim, correction=correction))


def amax(input, dim=(), keepdim=False):  # noqa: A002
    """Max over ``dim`` (all axes by default); tied maxima share the gradient."""
    return AMax.apply(input, axis=_reduced_axes(dim, input, "amax"), keepdim=keepdim)


def amin(input, dim=(), keepdim=False):  # noqa: A002
    """Min over ``dim`` (all axes by default); tied minima share the gradient."""
    return AMax.apply(input, axis=_reduced_axes(dim, input, "amin"), keepdim=keepdim, largest=False)


def _max_min(input, dim, keepdim, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # torch.max(a, b): element-wise
        return maximum(input, dim) if largest else minimum(input, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}(): keepdim needs dim")
        return AMax.apply(input, axis=None, keepdim=False, largest=largest)
    axis = normalize_dim(dim, input.ndim, name)
    data = input.array
    if data.ndim == 0:
        indices = get_array_module(data).zeros((), dtype=np.int64)
        return ValuesIndices(input, Tensor._wrap(indices, False))
    indices = data.argmax(axis=axis) if largest else data.argmin(axis=axis)
    values = MaxDim.apply(input, axis=axis, indices=indices, keepdim=keepdim)
    if keepdim:
        indices = get_array_module(data).expand_dims(indices, axis)
    return ValuesIndices(values, Tensor._wrap(indices.astype(np.int64, copy=False), False))


def max(input, dim=None, keepdim=False):  # noqa: A001,A002 - torch.max
    """``max(x)`` -> scalar tensor; ``max(x, dim)`` -> ``(values, indices)``; ``max(x, y)`` element-wise.

    With ``dim``, the gradient goes to the element each index points at (the
    first maximum); without, tied maxima share it evenly, as in torch.
    """
    return _max_min(input, dim, keepdim, True)


def min(input, dim=None, keepdim=False):  # noqa: A001,A002 - torch.min
    """``min(x)``, ``min(x, dim) -> (values, indices)`` or element-wise ``min(x, y)``."""
    return _max_min(input, dim, keepdim, False)


def _arg(input, dim, keepdim, largest):
    data = input.array
    name = "argmax" if largest else "argmin"
    pick = data.argmax if largest else data.argmin
    if dim is None:
        out = pick()
        if keepdim:
            out = out.reshape((1,) * data.ndim)
    else:
        axis = normalize_dim(dim, data.ndim, name)
        out = pick(axis=axis) if data.ndim else get_array_module(data).zeros((), np.int64)
        if keepdim and data.ndim:
            out = get_array_module(data).expand_dims(out, axis)
    return Tensor._wrap(get_array_module(data).asarray(out, dtype=np.int64), False)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the (first) maximum, flat when ``dim`` is None; no gradient."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the (first) minimum, flat when ``dim`` is None; no gradient."""
    return _arg(input, dim, keepdim, False)


def _softmax_dim(input, dim, name):
    if dim is None:
        raise TypeError(
            f"{name}() needs dim= (the axis that sums to one); PyTorch deprecated the implicit choice"
        )
    return normalize_dim(dim, input.ndim, name) if input.ndim else None


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """``exp(x) / exp(x).sum(dim)``, computed after subtracting the max (no overflow)."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    return Softmax.apply(input, axis=_softmax_dim(input, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """``x - logsumexp(x, dim)``: stable where ``softmax(x).log()`` would give -inf."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    return LogSoftmax.apply(input, axis=_softmax_dim(input, dim, "log_softmax"))


def logsumexp(input, dim, keepdim=False):  # noqa: A002
    """``log(sum(exp(x), dim))`` without overflow."""
    axis = normalize_dims(dim, input.ndim, "logsumexp")
    return LogSumExp.apply(input, axis=_axes(axis, input.ndim), keepdim=keepdim)
