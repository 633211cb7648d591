"""numba kernels on CPU: conv input gradients (col2im, channels-last patch sums) and max pooling.

The plain numpy/cupy code in ``conv.py`` is the reference and the GPU path;
this loop computes the same numbers on numpy arrays in one multithreaded pass
over memory instead of ``kh*kw`` strided numpy passes (measured about 2x
faster). The max-pool scatter adds each output gradient at its stored
argmax. The common 2x2, stride-2 max pool has its own pair of kernels: the
four window values are read and compared branch-free, so LLVM vectorises the
loop (forward 0.15 ms instead of numpy's 4.4 ms on the CNN's first pool, 64x32x32x32
float32; backward 0.5 ms instead of 6.8, writing every input cell once, no zeroed
buffer). im2col is not here: numpy's strided copy beat a numba loop for it.
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


# Below this many elements (all arrays together) the fused row kernels (GELU, layer norm, cross-entropy,
# embedding gradient) leave the work to numpy: a small model's step is microseconds either way, and the
# first kernel call would import numba (~0.5 s), which the default `trainkit train` job never needs
# (2.0 -> 0.9 s). A fixed size, not "whether numba is loaded yet", so a shape always takes one path.
KERNEL_MIN_ELEMENTS = 1 << 14


def _enabled_for(arrays) -> bool:
    """The kernels are switched on and every array is a numpy float32/64 array."""
    return ENABLED and all(isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) for a in arrays)


def usable(*arrays) -> bool:
    """Whether the numba kernels may run on ``arrays``: enabled, large enough, all numpy float32/64, numba usable."""
    return _enabled_for(arrays) and sum(a.size for a in arrays) >= KERNEL_MIN_ELEMENTS and numba_available()


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

    @njit(cache=True, nogil=True)
    def patches_to_nhwc(rows, kh, kw, sh, sw, dh, dw, ho, wo, gpad):
        """Sum channels-last patch rows (conv_cpu's) into the padded NHWC gradient: runs of kw*C when dw == 1."""
        b, c_ = gpad.shape[0], gpad.shape[3]
        run = kw * c_
        for n in range(b):
            for oh in range(ho):
                for ow in range(wo):
                    row = rows[(n * ho + oh) * wo + ow]
                    for i in range(kh):
                        dst = gpad[n, oh * sh + i * dh]
                        if dw == 1:
                            flat = dst.reshape(-1)
                            d0, s0 = ow * sw * c_, i * run
                            for e in range(run):
                                flat[d0 + e] += row[s0 + e]
                        else:
                            for j in range(kw):
                                w, s0 = ow * sw + j * dw, (i * kw + j) * c_
                                for cc in range(c_):
                                    dst[w, cc] += row[s0 + cc]

    @njit(inline="always")
    def first_max(m, k, v, kv):
        """(max, offset) after ``v`` at offset ``kv``: a larger value or the first NaN wins (torch's rule)."""
        take = v > m or (v != v and m == m)  # noqa: PLR0124 - NaN tests (math.isnan costs a call in numba)
        return (v if take else m), (kv if take else k)

    @njit(parallel=True, cache=True)
    def maxpool2x2_forward(x, out, idx):
        c_ = x.shape[1]
        ho, wo = out.shape[2], out.shape[3]
        for nc in prange(x.shape[0] * c_):
            n, c = nc // c_, nc % c_
            for oh in range(ho):
                r0, r1 = x[n, c, 2 * oh], x[n, c, 2 * oh + 1]
                o, ix = out[n, c, oh], idx[n, c, oh]
                for ow in range(wo):
                    m, k = r0[2 * ow], 0
                    m, k = first_max(m, k, r0[2 * ow + 1], 1)
                    m, k = first_max(m, k, r1[2 * ow], 2)
                    m, k = first_max(m, k, r1[2 * ow + 1], 3)
                    o[ow], ix[ow] = m, k

    @njit(parallel=True, cache=True)
    def maxpool2x2_backward(g, idx, gx):
        c_, h_, w_ = gx.shape[1], gx.shape[2], gx.shape[3]
        ho, wo = g.shape[2], g.shape[3]
        for nc in prange(gx.shape[0] * c_):
            n, c = nc // c_, nc % c_
            for oh in range(ho):
                r0, r1 = gx[n, c, 2 * oh], gx[n, c, 2 * oh + 1]
                gr, ix = g[n, c, oh], idx[n, c, oh]
                zero = gr.dtype.type(0)
                for ow in range(wo):
                    k, v = ix[ow], gr[ow]
                    r0[2 * ow] = v if k == 0 else zero
                    r0[2 * ow + 1] = v if k == 1 else zero
                    r1[2 * ow] = v if k == 2 else zero
                    r1[2 * ow + 1] = v if k == 3 else zero
                for w in range(2 * wo, w_):  # odd width: the last column is in no window
                    r0[w] = zero
                    r1[w] = zero
            for h in range(2 * ho, h_):  # odd height: the last row is in no window
                gx[n, c, h, :] = 0

    return {"col2im": col2im, "col2im_serial": col2im_serial, "maxpool_backward": maxpool_backward,
            "maxpool2x2_forward": maxpool2x2_forward, "maxpool2x2_backward": maxpool2x2_backward,
            "patches_to_nhwc": patches_to_nhwc}


def get(name: str, *arrays):
    """The numba kernel ``name`` when enabled and every array is a numpy float32/64 array, else None."""
    if not _enabled_for(arrays):
        return None
    kernels = _kernels()
    return None if kernels is None else kernels[name]
