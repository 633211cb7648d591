"""numba kernels for col2im (the conv input gradient) and the max-pool gradient scatter on CPU.

The plain numpy/cupy code in ``conv.py`` is the reference and the GPU path;
this loop computes the same numbers on numpy arrays in one multithreaded pass
over memory instead of ``kh*kw`` strided numpy passes (measured about 2x
faster). The max-pool scatter adds each output gradient at its stored
argmax. im2col and the max-pool forward are not here: numpy's strided copy
and elementwise ``maximum`` beat numba loops for them.
Tests check both paths agree; ``ENABLED`` lets them run the numpy code. Without
numba, or with numba switched off (``TRAINKIT_DISABLE_NUMBA``, see
:func:`trainkit.backend.numba_available`), the numpy code runs.

``ENABLED``, :func:`usable` and :func:`parallel_worth` are also the switch and
the size rule of the other numba kernels of ``nn.functional`` (GELU, layer
norm, embedding gradient, cross-entropy), so one flag turns them all off.
"""
from __future__ import annotations

import functools

import numpy as np

from ...backend import numba_available

ENABLED = True
#: Elements below which a kernel runs its serial variant: waking numba's threads costs
#: more than it saves for less (about 30 us of work), more so on a busy machine.
PARALLEL_MIN = 1 << 17


def usable(*arrays) -> bool:
    """Whether the numba kernels may run on ``arrays``: enabled, numba usable, all numpy float32/64."""
    if not ENABLED:
        return False
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            return False
    return numba_available()


def parallel_worth(size: int) -> bool:
    """Whether ``size`` elements of work should go to numba's thread pool (large, and more than one thread)."""
    if size < PARALLEL_MIN:
        return False
    import numba  # noqa: PLC0415 - already imported by numba_available()

    return numba.get_num_threads() > 1


@functools.lru_cache(maxsize=None)
def _kernels():
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    njit, prange = numba.njit, numba.prange

    @njit(inline="always")
    def valid_range(wo, sw, off, w_):
        """Output columns ow in [lo, hi) whose input column ow*sw + off lies inside [0, w_)."""
        lo = 0
        if off < 0:
            lo = min((-off + sw - 1) // sw, wo)
        hi = wo
        if (wo - 1) * sw + off >= w_:
            hi = max(min((w_ - 1 - off) // sw + 1, wo), lo) if w_ - 1 - off >= 0 else lo
        return lo, hi

    @njit(cache=True, nogil=True)
    def col2im_channel(cols, c, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx):
        n_, _, h_, w_ = gx.shape
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                off = j * dw - pw
                lo, hi = valid_range(wo, sw, off, w_)
                for n in range(n_):
                    base = n * ho * wo
                    for oh in range(ho):
                        h = oh * sh - ph + i * dh
                        if h < 0 or h >= h_:
                            continue
                        src = cols[r, base + oh * wo: base + (oh + 1) * wo]
                        dst = gx[n, c, h]
                        for ow in range(lo, hi):
                            dst[ow * sw + off] += src[ow]

    # parallel over channels for a whole batch; serial for a cache-sized chunk of it, where
    # waking the thread pool for every chunk costs more than it saves (conv2d's chunks)
    @njit(parallel=True, cache=True)
    def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx):
        for c in prange(gx.shape[1]):
            col2im_channel(cols, c, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx)

    @njit(cache=True, nogil=True)
    def col2im_serial(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx):
        for c in range(gx.shape[1]):
            col2im_channel(cols, c, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx)

    @njit(parallel=True, cache=True)
    def maxpool_backward(g, idx, kh, kw, sh, sw, ph, pw, dh, dw, gx):
        n_, c_, h_, w_ = gx.shape
        ho, wo = g.shape[2], g.shape[3]
        for nc in prange(n_ * c_):
            n = nc // c_
            c = nc % c_
            for oh in range(ho):
                for ow in range(wo):
                    k = idx[n, c, oh, ow]
                    h = oh * sh - ph + (k // kw) * dh
                    w = ow * sw - pw + (k % kw) * dw
                    if 0 <= h < h_ and 0 <= w < w_:
                        gx[n, c, h, w] += g[n, c, oh, ow]

    return {"col2im": col2im, "col2im_serial": col2im_serial, "maxpool_backward": maxpool_backward}


def get(name: str, *arrays):
    """The numba kernel ``name`` when enabled and every array is a numpy float32/64 array, else None."""
    if not ENABLED:
        return None
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            return None
    kernels = _kernels()
    return None if kernels is None else kernels[name]
