"""Layer norm on CPU with numba: one pass per row forward, one per row backward.

The numpy code in ``normalization.py`` is the reference and the GPU path. It
makes about six full passes over the (rows, features) array forward (mean,
centre, variance, scale, weight, bias) and keeps ``xhat``, a copy of the
input's size, for backward. These kernels work on one row at a time while it
sits in cache, with float64 sums:

* forward: mean, then the variance of the centred row (two sweeps over the
  cached row, as accurate as numpy's), then ``y = (x - mean) * rstd * w + b``;
  it keeps only ``mean`` and ``rstd`` per row (``xhat`` is recomputed);
* backward: per row ``gx = rstd * (g*w - mean(g*w) - xhat * mean(g*w*xhat))``,
  and the weight/bias gradients ``sum(g * xhat)``/``sum(g)`` over rows, summed
  per fixed block of :data:`ROWS` rows into a float64 partial and the partials
  then added in block order: the same numbers whatever the thread count.

Rows run in parallel on numba's threads when there are enough elements
(:func:`._cpu_kernels.parallel_worth`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ...backend import numba_available
from . import _cpu_kernels

ROWS = 32  # rows per block of the weight/bias gradient partial sums


@functools.lru_cache(maxsize=None)
def _kernels():
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    njit, prange = numba.njit, numba.prange
    opts = dict(cache=True, nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")

    @njit(**opts)
    def forward_rows(x, w, b, eps, y, mean, rstd, lo, hi):
        n = x.shape[1]
        for i in range(lo, hi):
            xr, yr = x[i], y[i]
            s = 0.0
            for j in range(n):
                s += np.float64(xr[j])
            mu = s / n
            v = 0.0
            for j in range(n):
                d = np.float64(xr[j]) - mu
                v += d * d
            r = 1.0 / math.sqrt(v / n + eps)
            for j in range(n):
                yr[j] = (np.float64(xr[j]) - mu) * r * w[j] + b[j]
            mean[i], rstd[i] = mu, r

    @njit(**opts)
    def backward_rows(x, g, w, mean, rstd, gx, pgw, pgb, lo, hi):
        n = x.shape[1]
        for i in range(lo, hi):
            xr, gr, gxr = x[i], g[i], gx[i]
            mu, r = mean[i], rstd[i]
            a = 0.0
            c = 0.0
            for j in range(n):
                xh = (np.float64(xr[j]) - mu) * r
                gj = np.float64(gr[j])
                gh = gj * w[j]
                a += gh
                c += gh * xh
                pgw[j] += gj * xh
                pgb[j] += gj
            a /= n
            c /= n
            for j in range(n):
                xh = (np.float64(xr[j]) - mu) * r
                gxr[j] = r * (np.float64(gr[j]) * w[j] - a - xh * c)

    @njit(parallel=True, cache=True)
    def forward_parallel(x, w, b, eps, y, mean, rstd):
        m = x.shape[0]
        for k in prange((m + ROWS - 1) // ROWS):
            forward_rows(x, w, b, eps, y, mean, rstd, k * ROWS, min(m, (k + 1) * ROWS))

    @njit(cache=True, nogil=True)
    def forward_serial(x, w, b, eps, y, mean, rstd):
        forward_rows(x, w, b, eps, y, mean, rstd, 0, x.shape[0])

    @njit(parallel=True, cache=True)
    def backward_blocks(x, g, w, mean, rstd, gx, pgw, pgb):
        m = x.shape[0]
        for k in prange((m + ROWS - 1) // ROWS):
            backward_rows(x, g, w, mean, rstd, gx, pgw[k], pgb[k], k * ROWS, min(m, (k + 1) * ROWS))

    @njit(cache=True, nogil=True)
    def backward_serial(x, g, w, mean, rstd, gx, pgw, pgb):
        m = x.shape[0]
        for k in range((m + ROWS - 1) // ROWS):
            backward_rows(x, g, w, mean, rstd, gx, pgw[k], pgb[k], k * ROWS, min(m, (k + 1) * ROWS))

    return {"forward": (forward_serial, forward_parallel), "backward": (backward_serial, backward_blocks)}


def _as_vector(a, n, fill):
    return np.full(n, fill) if a is None else np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def forward(x, weight, bias, n_dims: int, eps: float):
    """``(y, saved)`` from numba, or None where the kernels cannot run on these arrays."""
    if not _cpu_kernels.usable(x) or x.size == 0:
        return None
    ks = _kernels()
    if ks is None:
        return None
    n = int(np.prod(x.shape[x.ndim - n_dims:]))
    x2 = np.ascontiguousarray(x).reshape(-1, n)
    y = np.empty_like(x2)
    m = x2.shape[0]
    mean, rstd = np.empty(m), np.empty(m)
    serial, parallel = ks["forward"]
    kernel = parallel if _cpu_kernels.parallel_worth(x2.size) and m >= 2 * ROWS else serial
    kernel(x2, _as_vector(weight, n, 1.0), _as_vector(bias, n, 0.0), float(eps), y, mean, rstd)
    return y.reshape(x.shape), (x2, mean, rstd, x.shape[x.ndim - n_dims:])


def backward(g, saved, weight):
    """``(gx, gw, gb)`` for the output gradient ``g``; gw/gb in float64 partial sums, cast to ``g``'s dtype."""
    x2, mean, rstd, norm_shape = saved
    n = x2.shape[1]
    g2 = np.ascontiguousarray(g, dtype=x2.dtype).reshape(-1, n)
    gx = np.empty_like(x2)
    blocks = (x2.shape[0] + ROWS - 1) // ROWS
    pgw, pgb = np.zeros((blocks, n)), np.zeros((blocks, n))
    serial, parallel = _kernels()["backward"]
    kernel = parallel if _cpu_kernels.parallel_worth(x2.size) and blocks > 1 else serial
    kernel(x2, g2, _as_vector(weight, n, 1.0), mean, rstd, gx, pgw, pgb)
    gw, gb = pgw.sum(axis=0).astype(g.dtype), pgb.sum(axis=0).astype(g.dtype)
    return gx.reshape(g.shape), gw.reshape(norm_shape), gb.reshape(norm_shape)
