"""conv2d on CPU, channels-last: each output pixel's patch is one contiguous row.

Used by ``conv.Conv2dFunction`` for numpy arrays with ``groups=1``. A chunk of
the batch is copied once into a zero-padded NHWC buffer; its patches matrix
``(chunk*Ho*Wo, kh*kw*C)`` is then a strided view whose rows are ``kh`` runs of
``kw*C`` contiguous values (NCHW im2col copies runs of only ``Wo`` values), and
``patches @ W.T`` gives the chunk's NHWC output. Backward multiplies the NHWC
gradient back (``g.T @ patches`` for the weight, ``g @ W`` for the patches'
gradient) and sums the patches' gradient into the padded NHWC input gradient
with contiguous runs too (a numba loop; ``kh*kw`` strided numpy adds without numba).

Measured single-threaded on the CIFAR CNN's 32->32 5x5 conv over 64 16x16 images:
patches 1.7 ms vs NCHW im2col 5.4 ms, patch-gradient scatter 6.3 ms vs col2im
12.9 ms, the GEMMs alike (9-10 ms each); the NCHW<->NHWC transposes of a chunk cost
about 0.2 ms per batch.
"""
from __future__ import annotations

import numpy as np

from . import _cpu_kernels


def _padded_nhwc(x, ph, pw):
    """A zero-padded channels-last copy of the NCHW chunk ``x``."""
    b, c, h, w = x.shape
    out = np.zeros((b, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
    out[:, ph : ph + h, pw : pw + w, :] = x.transpose(0, 2, 3, 1)
    return out


def _patches(xh, kernel, stride, dilation, ho, wo):
    """Rows ``(b*Ho*Wo, kh*kw*C)``: each output pixel's receptive field in (i, j, c) order."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    b, c = xh.shape[0], xh.shape[3]
    s0, s1, s2, s3 = xh.strides
    view = np.lib.stride_tricks.as_strided(
        xh, shape=(b, ho, wo, kh, kw, c), strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
    )
    return view.reshape(b * ho * wo, kh * kw * c)


def weight_rows(weight):
    """The (O, C, kh, kw) weight as (O, kh*kw*C) in the patches' column order."""
    return np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(weight.shape[0], -1)


def flipped_weight_rows(wrows, c, kernel):
    """The (O, kh*kw*C) weight rows as the transposed convolution's (C, kh*kw*O) rows, kernel flipped."""
    kh, kw = kernel
    w4 = wrows.reshape(-1, kh, kw, c)  # (O, kh, kw, C)
    return np.ascontiguousarray(w4[:, ::-1, ::-1, :].transpose(3, 1, 2, 0)).reshape(c, -1)


def weight_grad(rows_grad, shape):
    """(O, kh*kw*C) back to torch's (O, C, kh, kw)."""
    o, c, kh, kw = shape
    return np.ascontiguousarray(rows_grad.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))


def _scatter_patches(grows, xshape_padded, kernel, stride, dilation, ho, wo, dtype):
    """Adjoint of ``_patches``: the padded NHWC gradient of the rows ``grows``."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    gpad = np.zeros(xshape_padded, dtype=dtype)
    kernel_fn = _cpu_kernels.get("patches_to_nhwc", grows)
    if kernel_fn is not None:
        kernel_fn(grows, kh, kw, sh, sw, dh, dw, ho, wo, gpad)
        return gpad
    b, c = xshape_padded[0], xshape_padded[3]
    r = grows.reshape(b, ho, wo, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            hs, ws = i * dh, j * dw
            gpad[:, hs : hs + sh * (ho - 1) + 1 : sh, ws : ws + sw * (wo - 1) + 1 : sw, :] += r[:, :, :, i, j, :]
    return gpad


def forward_chunk(x, wrows, bias, cfg, out):
    """Write the NCHW output of the chunk ``x`` into ``out`` (its slice of the batch's output)."""
    kernel, stride, padding, dilation, _, ho, wo = cfg
    rows = _patches(_padded_nhwc(x, *padding), kernel, stride, dilation, ho, wo)
    y = rows @ wrows.T  # (b*Ho*Wo, O)
    if bias is not None:
        y += bias
    out[...] = y.reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2)


def backward_chunk(g, x, wrows, cfg, gw_rows, gx):
    """Add the chunk's weight gradient to ``gw_rows`` (or None) and write its input gradient to ``gx`` (or None)."""
    kernel, stride, padding, dilation, _, ho, wo = cfg
    (ph, pw), (b, c, h, w) = padding, x.shape
    # per image, the NCHW gradient is already (O, Ho*Wo): BLAS takes its transpose for free, where
    # a (b*Ho*Wo, O) copy of the chunk cost 3.9 ms per batch for the CNN's first conv
    g_img = g.reshape(b, g.shape[1], -1)
    hw = ho * wo
    if gw_rows is not None:
        rows = _patches(_padded_nhwc(x, ph, pw), kernel, stride, dilation, ho, wo)
        for i in range(b):
            gw_rows += g_img[i] @ rows[i * hw : (i + 1) * hw]
    if gx is not None and stride == (1, 1) and all(p <= d * (k - 1) for p, d, k in zip(padding, dilation, kernel)):
        # stride 1: the input gradient is the convolution of the gradient with the flipped, transposed
        # weight (a "full" convolution): patches + one GEMM instead of a GEMM + scatter (5 of the
        # CNN's 6.4 ms scatter saved single-threaded on its 32->32 conv)
        q = tuple(d * (k - 1) - p for p, d, k in zip(padding, dilation, kernel))
        rows = _patches(_padded_nhwc(g, *q), kernel, stride, dilation, h, w)  # (b*H*W, kh*kw*O)
        y = rows @ flipped_weight_rows(wrows, c, kernel).T  # (b*H*W, C)
        gx[...] = y.reshape(b, h, w, c).transpose(0, 3, 1, 2)
    elif gx is not None:
        grows = np.empty((b * hw, wrows.shape[1]), dtype=g.dtype)
        for i in range(b):
            np.matmul(g_img[i].T, wrows, out=grows[i * hw : (i + 1) * hw])
        gpad = _scatter_patches(grows, (b, h + 2 * ph, w + 2 * pw, c), kernel, stride, dilation, ho, wo, g.dtype)
        gx[...] = gpad[:, ph : ph + h, pw : pw + w, :].transpose(0, 3, 1, 2)
