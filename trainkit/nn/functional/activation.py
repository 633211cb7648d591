"""Activations: relu/tanh/sigmoid come from the autograd ops; the rest are fused nodes here (GELU's kernels: :mod:`._gelu_kernels`)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...autograd import ops
from ...autograd.function import Function
from ...backend import get_array_module
from . import _gelu_kernels
from ._erf import erf as _erf_numpy

relu = ops.relu
tanh = ops.tanh
sigmoid = ops.sigmoid


class LeakyReLUFunction(Function):
    def forward(self, x, negative_slope=0.01):
        self.mask = x > 0
        self.slope = x.dtype.type(negative_slope)
        return get_array_module(x).where(self.mask, x, x * self.slope)

    def backward(self, g):
        return get_array_module(g).where(self.mask, g, g * self.slope)


def leaky_relu(input, negative_slope: float = 0.01):
    """``x if x > 0 else negative_slope * x`` (torch's default slope 0.01)."""
    return LeakyReLUFunction.apply(input, negative_slope=negative_slope)


def _erf(x):
    """Error function of a numpy/cupy array (cupy's own on the GPU; :mod:`._erf`, no scipy, on the CPU)."""
    xp = get_array_module(x)
    if xp is not np:
        import cupyx.scipy.special  # noqa: PLC0415 - only on the GPU path

        return cupyx.scipy.special.erf(x)
    return _erf_numpy(x)


def gelu_reference(x, approximate="none", need_grad=True):
    """``(gelu(x), d gelu/dx or None)`` with plain numpy/cupy array ops: the fallback and test reference."""
    xp = get_array_module(x)
    t = x.dtype.type
    if approximate == "tanh":
        k = t(math.sqrt(2.0 / math.pi))
        inner = xp.tanh(k * (x + t(0.044715) * x * x * x))
        y = t(0.5) * x * (1 + inner)
        if not need_grad:
            return y, None
        d_inner = k * (1 + t(3 * 0.044715) * x * x)
        return y, t(0.5) * (1 + inner) + t(0.5) * x * (1 - inner * inner) * d_inner
    cdf = t(0.5) * (1 + _erf(x * t(1 / math.sqrt(2.0))))
    if not need_grad:
        return x * cdf, None
    pdf = xp.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))
    return x * cdf, cdf + x * pdf


class GELUFunction(Function):
    """GELU as one node: forward also writes ``d = gelu'(x)`` when a gradient is needed, backward is ``g * d``.

    numba (CPU float32/64) and cupy (GPU) compute ``y`` and ``d`` in one fused
    pass (:mod:`._gelu_kernels`); other arrays, or numba switched off, take
    :func:`gelu_reference`.
    """

    def forward(self, x, approximate="none"):
        need = self.needs_input_grad[0]
        xp = get_array_module(x)
        if xp is not np and x.dtype in (np.float32, np.float64):
            y, self.d = _gelu_kernels.forward_cupy(x, approximate, need)
            return y
        out = _gelu_kernels.forward(x, approximate, need)
        y, self.d = out if out is not None else gelu_reference(x, approximate, need)
        return y

    def backward(self, g):
        return g * self.d


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit, exact (``'none'``, erf) or the ``'tanh'`` approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction.apply(input, approximate=approximate)


def log_softmax_array(x, axis: int):
    """Numerically stable log-softmax of a raw array (the losses' fused kernels use it)."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def _legacy_dim(ndim: int, dim, name: str) -> int:
    """torch's implicit softmax dim for ``dim=None`` (0 for 0-, 1- and 3-D input, else 1), with its warning."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (the autograd op; ``dim=None`` uses torch's legacy rule)."""
    return ops.softmax(input, _legacy_dim(input.ndim, dim, "softmax"), dtype=dtype)


def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim`` (the autograd op; ``dim=None`` uses torch's legacy rule)."""
    return ops.log_softmax(input, _legacy_dim(input.ndim, dim, "log_softmax"), dtype=dtype)
