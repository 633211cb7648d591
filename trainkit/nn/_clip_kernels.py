"""numba kernels for ``clip_grad_norm_`` on large CPU gradients: the 2-norm and the in-place scaling.

``clip_grad_norm_`` reads every gradient twice when it clips (its norm, then
``g *= coef``); numpy runs each pass on one core (BLAS's dot, numpy's multiply)
while torch's foreach kernels use every core. These two loops run the passes
on numba's thread pool, for float32/float64 gradients of at least
:func:`~trainkit.optim.kernels.numba_backend.parallel_threshold` elements
(smaller ones, other dtypes and other norms take the numpy code in
:mod:`trainkit.nn.utils`):

* ``sumsq``: the sum of squares. The array is cut into blocks of ``BLOCK``
  elements; one compiled function sums a block in the array's dtype
  (vectorised: its additions may be reassociated into SIMD lanes, always the
  same way), and the block sums are added in float64, in block order. So the
  result depends on the data only, not on the number of threads or on which
  variant ran; and short sums are more exact than BLAS's float32 dot over the
  whole array (measured: 1e-9 against 3e-6 relative error for 2.4M float32
  squares), well within the tests against torch.
* ``scale``: ``x[i] *= c``, one IEEE multiply per element, the same as numpy's.

Each has a serial and a ``prange`` variant with identical results, chosen by
measured time (:class:`~trainkit.optim.kernels.adaptive.Adaptive`), as the
optimizer's kernels are: on a loaded machine the thread pool can lose. Built on
first use (numba through :func:`trainkit.backend.numba_available`; compiled
once and cached on disk); ``None`` without numba.
"""
from __future__ import annotations

import functools

import numpy as np

from ..backend import numba_available

BLOCK = 1 << 14


@functools.cache
def kernels():
    """``{"sumsq": f(x) -> float, "scale": f(x, c)}`` over 1-D contiguous float32/64 arrays, or None."""
    if not numba_available():
        return None
    import numba

    from ..optim.kernels.adaptive import Adaptive

    njit, prange = numba.njit, numba.prange
    block = BLOCK

    @njit(cache=True, nogil=True, fastmath={"reassoc"})
    def block_sumsq(y, zero):
        # one compiled function for every block of both variants: the same vector lanes and order
        total = zero
        for i in range(y.shape[0]):
            v = y[i]
            total += v * v
        return total

    def variants(loop_body):
        """The serial and the ``prange`` kernel of one loop (``loop`` is ``range`` or ``prange``)."""
        return (njit(cache=True, nogil=True)(loop_body(range)),
                njit(cache=True, nogil=True, parallel=True)(loop_body(prange)))

    def sumsq_loop(loop):
        def sumsq(x, zero, partials, out):
            n = x.shape[0]
            for b in loop(partials.shape[0]):
                partials[b] = block_sumsq(x[b * block:min(n, (b + 1) * block)], zero)
            total = 0.0
            for b in range(partials.shape[0]):
                total += partials[b]
            out[0] = total

        return sumsq

    def scale_loop(loop):
        def scale(x, c):
            for i in loop(x.shape[0]):
                x[i] *= c

        return scale

    sumsq_choice = Adaptive(variants(sumsq_loop))
    scale_choice = Adaptive(variants(scale_loop))

    def sumsq(x) -> float:
        partials = np.empty(-(-x.shape[0] // block), dtype=np.float64)
        out = np.empty(1, dtype=np.float64)
        sumsq_choice(x, x.dtype.type(0), partials, out)
        return float(out[0])

    def scale(x, c) -> None:
        scale_choice(x, c)

    return {"sumsq": sumsq, "scale": scale, "adaptive": (sumsq_choice, scale_choice)}


def min_size() -> int:
    """The smallest gradient (elements) that takes these kernels:
    :func:`~trainkit.optim.kernels.numba_backend.parallel_threshold`, so numba's start-up is paid only
    where a pass is long. Read once per clipping call (it reads the environment)."""
    from ..optim.kernels.numba_backend import parallel_threshold

    return max(parallel_threshold(), 1)


def eligible(x, threshold: int) -> bool:
    """Whether ``x`` takes these kernels: a C-contiguous numpy float32/64 array of ``threshold``
    (:func:`min_size`) elements or more, with numba usable (imported here, by the first such array)."""
    return (
        x.size >= threshold
        and isinstance(x, np.ndarray)
        and x.dtype in _DTYPES
        and x.flags.c_contiguous
        and kernels() is not None
    )


_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
