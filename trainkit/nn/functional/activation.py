"""Activations: relu/tanh/sigmoid come from the autograd ops; the rest are fused nodes here."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...autograd import ops
from ...autograd.function import Function
from ...backend import get_array_module

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
    """Error function on numpy/cupy arrays (scipy/cupyx when present, exact ``math.erf`` otherwise)."""
    xp = get_array_module(x)
    if xp is not np:
        import cupyx.scipy.special  # noqa: PLC0415 - only on the GPU path

        return cupyx.scipy.special.erf(x)
    try:
        from scipy.special import erf  # noqa: PLC0415 - optional accelerator
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    return erf(x).astype(x.dtype, copy=False)


class GELUFunction(Function):
    def forward(self, x, approximate="none"):
        xp = get_array_module(x)
        t = x.dtype.type
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            k = t(math.sqrt(2.0 / math.pi))
            self.inner = xp.tanh(k * (x + t(0.044715) * x * x * x))
            return t(0.5) * x * (1 + self.inner)
        self.cdf = t(0.5) * (1 + _erf(x * t(1 / math.sqrt(2.0))))
        return x * self.cdf

    def backward(self, g):
        xp = get_array_module(g)
        x = self.x
        t = x.dtype.type
        if self.approximate == "tanh":
            k = t(math.sqrt(2.0 / math.pi))
            th = self.inner
            d_inner = k * (1 + t(3 * 0.044715) * x * x)
            return g * (t(0.5) * (1 + th) + t(0.5) * x * (1 - th * th) * d_inner)
        pdf = xp.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))
        return g * (self.cdf + x * pdf)


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
