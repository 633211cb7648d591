"""Cross-entropy from logits over class-index targets, one fused pass per row (numba / cupy).

For logits ``x`` (M, C), targets ``t``, per-row coefficients ``alpha`` (the
NLL term, ``(1 - ls) * weight[t] * scale``) and ``beta`` (the label-smoothing
term, ``ls / C * valid * scale``), class weights ``w`` (ones when absent) and
``W = sum(w)``, a row kernel computes while the row sits in cache:

* (given the row max ``m``, numpy's) ``lse = m + log(sum(exp(x - m)))`` (and ``sum(w * x)``
  when smoothing), which give the loss;
* when a gradient will be needed, the gradient of ``scale * loss`` itself:
  ``G = softmax * (alpha + beta * W) - beta * w``, minus ``alpha`` at the
  target. Backward then only multiplies ``G`` by the incoming gradient (or
  returns it as it is when that is 1, the usual ``loss.backward()``).

So the (M, C) buffer is written once in forward and read at most once in
backward, instead of the several passes of the numpy path (which stays the
reference, the fallback and the path for everything else, e.g. ``nll_loss``).
Rows run in parallel on numba's threads (they are independent: the result
does not depend on the thread count). float32 uses :mod:`.._fast_math`'s
vectorised ``exp`` (relative error < 2e-9) with float64 sums; float64 uses libm.
cupy: one block of 256 threads per row (:data:`_CUDA_SOURCE`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ....backend import numba_available
from .. import _cpu_kernels, _fast_math


@functools.lru_cache(maxsize=None)
def _kernels():
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    njit, prange = numba.njit, numba.prange
    exp_neg = _fast_math.scalars()["exp_neg"]

    @njit(inline="always")
    def exp_fast(v):  # exp(-v), v >= 0
        return exp_neg(v)

    @njit(inline="always")
    def exp_libm(v):
        return math.exp(-v)

    def make(exp_of):
        # reassoc: the row sums vectorise (their order is fixed by the build, not by timing)
        @njit(cache=True, nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
        def row(x, rmax, t, alpha, beta, w, big_w, g, out, i):
            c = x.shape[1]
            xr = x[i]
            want = g.shape[0] == x.shape[0]  # else g is a one-row scratch buffer
            gr = g[i] if want else g[0]
            m = np.float64(rmax[i])
            sx = 0.0
            if beta[i] != 0.0:
                if w.size:
                    for j in range(c):
                        sx += w[j] * np.float64(xr[j])
                else:
                    for j in range(c):
                        sx += np.float64(xr[j])
            s = 0.0
            if want:
                for j in range(c):
                    e = exp_of(m - np.float64(xr[j]))
                    gr[j] = e
                    s += e
            else:
                for j in range(c):
                    s += exp_of(m - np.float64(xr[j]))
            out[i, 0] = m + math.log(s)
            out[i, 1] = sx
            if want:
                a = (alpha[i] + beta[i] * big_w) / s
                b = beta[i]
                if b != 0.0 and w.size:
                    for j in range(c):
                        gr[j] = np.float64(gr[j]) * a - b * w[j]
                else:
                    for j in range(c):
                        gr[j] = np.float64(gr[j]) * a - b
                gr[t[i]] -= alpha[i]

        @njit(cache=True, nogil=True)
        def serial(x, rmax, t, alpha, beta, w, big_w, g, out):
            for i in range(x.shape[0]):
                row(x, rmax, t, alpha, beta, w, big_w, g, out, i)

        @njit(parallel=True, cache=True)
        def parallel(x, rmax, t, alpha, beta, w, big_w, g, out):
            for i in prange(x.shape[0]):
                row(x, rmax, t, alpha, beta, w, big_w, g, out, i)

        return serial, parallel

    return {np.dtype(np.float32): make(exp_fast), np.dtype(np.float64): make(exp_libm)}


def rows_numba(x2, t, alpha, beta, w, big_w: float, need_grad: bool):
    """``(lse, sum(w * x) per row, G or None)`` by numba, or None where it cannot run on ``x2``.

    ``x2`` (M, C) float32/64, ``t`` (M,) int64 class indices (any valid class
    where ignored), ``alpha``/``beta`` (M,) float64, ``w`` (C,) float64 or None.
    """
    if not _cpu_kernels.usable(x2):
        return None
    ks = _kernels()
    if ks is None:
        return None
    x2 = np.ascontiguousarray(x2)
    m = x2.shape[0]
    g = np.empty(x2.shape if need_grad else (1, x2.shape[1]), dtype=x2.dtype)
    out = np.empty((m, 2), dtype=np.float64)
    wv = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    serial, parallel = ks[x2.dtype]
    kernel = parallel if _cpu_kernels.parallel_worth(x2.size) and m > 1 else serial
    # numpy's row max is SIMD (a max loop does not vectorise in numba) and keeps nan
    kernel(x2, x2.max(axis=1), np.ascontiguousarray(t, dtype=np.int64), np.ascontiguousarray(alpha, dtype=np.float64),
           np.ascontiguousarray(beta, dtype=np.float64), wv, float(big_w), g, out)
    return out[:, 0], out[:, 1], (g if need_grad else None)


_CUDA_SOURCE = r"""
template <typename T>
__device__ double block_reduce(double v, double* sh, bool take_max) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            double o = sh[threadIdx.x + s];
            sh[threadIdx.x] = take_max ? (o > sh[threadIdx.x] ? o : sh[threadIdx.x]) : sh[threadIdx.x] + o;
        }
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

template <typename T>
__global__ void ce_rows(const T* x, const long long* t, const double* alpha, const double* beta,
                        const double* w, int has_w, double big_w, int want_grad,
                        long long m_rows, long long c, T* g, double* out) {
    __shared__ double sh[256];
    long long i = blockIdx.x;
    if (i >= m_rows) return;
    const T* xr = x + i * c;
    double m = __longlong_as_double(0xfff0000000000000ULL);  // -inf without the host headers
    for (long long j = threadIdx.x; j < c; j += blockDim.x) {
        double v = (double)xr[j];
        m = (v > m || v != v) ? v : m;
    }
    m = block_reduce<T>(m, sh, true);
    if (!isfinite(m)) m = isnan(m) ? 0.0 : m;
    double s = 0.0, sx = 0.0;
    for (long long j = threadIdx.x; j < c; j += blockDim.x) {
        double v = (double)xr[j];
        T e = exp((T)(v - m));
        s += (double)e;
        sx += has_w ? w[j] * v : v;
        if (want_grad) g[i * c + j] = e;
    }
    s = block_reduce<T>(s, sh, false);
    sx = block_reduce<T>(sx, sh, false);
    if (threadIdx.x == 0) { out[2 * i] = m + log(s); out[2 * i + 1] = sx; }
    if (!want_grad) return;
    double a = (alpha[i] + beta[i] * big_w) / s, b = beta[i];
    for (long long j = threadIdx.x; j < c; j += blockDim.x)
        g[i * c + j] = (T)((double)g[i * c + j] * a - b * (has_w ? w[j] : 1.0));
    __syncthreads();
    if (threadIdx.x == 0) g[i * c + t[i]] -= (T)alpha[i];
}
"""


@functools.lru_cache(maxsize=None)
def _cuda_module():
    import cupy  # noqa: PLC0415 - GPU path only

    return cupy.RawModule(code=_CUDA_SOURCE, options=("-std=c++11",),
                          name_expressions=("ce_rows<float>", "ce_rows<double>"))


def rows_cupy(x2, t, alpha, beta, w, big_w: float, need_grad: bool):
    """The same as :func:`rows_numba` for cupy float32/64 arrays: one block per row."""
    import cupy  # noqa: PLC0415 - GPU path only

    x2 = cupy.ascontiguousarray(x2)
    m, c = x2.shape
    g = cupy.empty(x2.shape if need_grad else (1,), dtype=x2.dtype)
    out = cupy.empty((m, 2), dtype=cupy.float64)
    wv = cupy.ones(1) if w is None else cupy.ascontiguousarray(w, dtype=cupy.float64)
    name = "ce_rows<float>" if x2.dtype == cupy.float32 else "ce_rows<double>"
    if m:
        _cuda_module().get_function(name)(
            (m,), (256,),
            (x2, cupy.ascontiguousarray(t, dtype=cupy.int64), cupy.ascontiguousarray(alpha, dtype=cupy.float64),
             cupy.ascontiguousarray(beta, dtype=cupy.float64), wv, np.int32(w is not None), np.float64(big_w),
             np.int32(need_grad), np.int64(m), np.int64(c), g, out))
    return out[:, 0], out[:, 1], (g if need_grad else None)
