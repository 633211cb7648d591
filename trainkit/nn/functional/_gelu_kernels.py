"""Fused GELU on CPU (numba) and GPU (cupy): the output and its derivative in one pass.

GELU is elementwise, so one kernel reads ``x`` once and writes ``y`` and, when
a gradient will be needed, ``d = dy/dx``; backward is then ``g * d``, one
multiply. Saving ``d`` instead of ``x`` and the normal CDF also keeps one
array alive instead of two.

numba (CPU): the float32 kernels compute in float64 with the vectorisable
``erf_poly``/``exp_neg`` of :mod:`._fast_math` (errors far below float32's
rounding, so float32-exact up to rounding); float64 uses numba's libm calls
(float64-exact, slower). Arrays of :data:`._cpu_kernels.PARALLEL_MIN` elements
or more run on numba's threads in fixed blocks.

cupy (GPU): one ``ElementwiseKernel`` per variant, using CUDA's ``erf``,
``exp`` and ``tanh`` in the array's own precision.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ...backend import numba_available
from . import _cpu_kernels, _fast_math

SQRT1_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TANH_K = math.sqrt(2.0 / math.pi)
TANH_C = 0.044715
BLOCK = 16384  # elements per parallel work item


@functools.lru_cache(maxsize=None)
def kernels():
    """``{name: kernel}``, or None without numba; compiled lazily, cached on disk."""
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    njit, prange = numba.njit, numba.prange

    erf_poly, exp_neg = _fast_math.scalars()["erf_poly"], _fast_math.scalars()["exp_neg"]

    @njit(inline="always")
    def exact_fast(x):
        cdf = 0.5 + 0.5 * erf_poly(x * SQRT1_2)
        return x * cdf, cdf + x * exp_neg(0.5 * x * x) * INV_SQRT_2PI

    @njit(inline="always")
    def exact_libm(x):
        cdf = 0.5 + 0.5 * math.erf(x * SQRT1_2)
        return x * cdf, cdf + x * math.exp(-0.5 * x * x) * INV_SQRT_2PI

    @njit(inline="always")
    def tanh_from(x, th):
        y = 0.5 * x * (1.0 + th)
        return y, 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * TANH_K * (1.0 + 3.0 * TANH_C * x * x)

    @njit(inline="always")
    def tanh_fast(x):
        z = TANH_K * (x + TANH_C * x * x * x)
        e = exp_neg(2.0 * abs(z))
        th = (1.0 - e) / (1.0 + e)
        return tanh_from(x, th if z >= 0.0 else -th)

    @njit(inline="always")
    def tanh_libm(x):
        return tanh_from(x, math.tanh(TANH_K * (x + TANH_C * x * x * x)))

    out = {}
    for name, scalar in (("none_fast", exact_fast), ("none_libm", exact_libm),
                         ("tanh_fast", tanh_fast), ("tanh_libm", tanh_libm)):
        out[name] = _loops(njit, prange, scalar)
    return out


def _loops(njit, prange, scalar):
    """Loops applying ``scalar`` (float64 x -> (y, dy/dx)) to 1-D contiguous arrays.

    ``(value, value_and_grad)`` pairs, serial and parallel: the parallel loop
    hands whole blocks (slices) to the serial one, as a loop over ``range(lo,
    hi)`` would not vectorise (numba cannot rule out negative indices there).
    ``contract`` lets LLVM fuse multiply-adds (one rounding instead of two);
    ``error_model="numpy"`` drops the zero-division check that stops vectorising.
    The closure's ``scalar`` is part of numba's cache key, so the four
    variants cache side by side.
    """

    @njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
    def value(x, y):
        for i in range(x.size):
            y[i] = scalar(np.float64(x[i]))[0]

    @njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
    def value_and_grad(x, y, d):
        for i in range(x.size):
            yi, di = scalar(np.float64(x[i]))
            y[i] = yi
            d[i] = di

    @njit(parallel=True, cache=True)
    def value_parallel(x, y):
        n = x.size
        for b in prange((n + BLOCK - 1) // BLOCK):
            lo, hi = b * BLOCK, min(n, (b + 1) * BLOCK)
            value(x[lo:hi], y[lo:hi])

    @njit(parallel=True, cache=True)
    def value_and_grad_parallel(x, y, d):
        n = x.size
        for b in prange((n + BLOCK - 1) // BLOCK):
            lo, hi = b * BLOCK, min(n, (b + 1) * BLOCK)
            value_and_grad(x[lo:hi], y[lo:hi], d[lo:hi])

    return {(False, False): value, (False, True): value_parallel,
            (True, False): value_and_grad, (True, True): value_and_grad_parallel}


def forward(x, approximate: str, need_grad: bool):
    """``(gelu(x), d gelu/dx or None)`` from numba, or None where the kernels cannot run on ``x``."""
    if not _cpu_kernels.usable(x):
        return None
    ks = kernels()
    if ks is None:
        return None
    flat = np.ascontiguousarray(x).reshape(-1)
    loops = ks[f"{approximate}_{'fast' if x.dtype == np.float32 else 'libm'}"]
    kernel = loops[need_grad, _cpu_kernels.parallel_worth(flat.size)]
    y = np.empty_like(flat)
    if not need_grad:
        kernel(flat, y)
        return y.reshape(x.shape), None
    d = np.empty_like(flat)
    kernel(flat, y, d)
    return y.reshape(x.shape), d.reshape(x.shape)


_CUPY_BODY = {
    "none": "T cdf = (T)0.5 * ((T)1 + erf(x * (T)0.7071067811865476)); y = x * cdf;",
    "tanh": ("T th = tanh((T)0.7978845608028654 * (x + (T)0.044715 * x * x * x));"
             " y = (T)0.5 * x * ((T)1 + th);"),
}
_CUPY_GRAD = {
    "none": "d = cdf + x * exp((T)-0.5 * x * x) * (T)0.3989422804014327;",
    "tanh": ("d = (T)0.5 * ((T)1 + th) + (T)0.5 * x * ((T)1 - th * th)"
             " * (T)0.7978845608028654 * ((T)1 + (T)0.134145 * x * x);"),
}


@functools.lru_cache(maxsize=None)
def _cupy_kernel(approximate: str, need_grad: bool):
    import cupy  # noqa: PLC0415 - GPU path only

    outs = "T y, T d" if need_grad else "T y"
    body = _CUPY_BODY[approximate] + (" " + _CUPY_GRAD[approximate] if need_grad else "")
    name = f"trainkit_gelu_{approximate}{'_grad' if need_grad else ''}"
    return cupy.ElementwiseKernel("T x", outs, body, name)


def forward_cupy(x, approximate: str, need_grad: bool):
    """``(gelu(x), d gelu/dx or None)`` for a cupy float array, one fused kernel."""
    outs = _cupy_kernel(approximate, need_grad)(x)
    return outs if need_grad else (outs, None)
