"""``conv2d`` as im2col + one GEMM per group.

The padded input is viewed (``as_strided``, no copy) as
``(C, kh, kw, N, Ho, Wo)`` and copied once into a ``(C*kh*kw, N*Ho*Wo)``
column matrix, so the forward pass is a single BLAS call
``W(O, C*kh*kw) @ cols`` and the weight gradient another one
``(cols @ g(O, N*Ho*Wo).T).T``. The input gradient is ``W.T @ g`` scattered back
with ``kh*kw`` strided adds (col2im), each vectorised over N, C, Ho and Wo;
on CPU a numba loop does col2im in one pass (about 2x faster). numpy's own
strided copy is faster than a numba im2col, so im2col stays numpy everywhere.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from ...autograd.function import Function, ShapeError
from ...backend import get_array_module
from . import _cpu_kernels, conv_cpu
from ._chunk_pool import can_split, run_ranges
from ._utils import pair


def conv_output_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _as_strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _pad(xp, x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def im2col(x, kernel, stride, padding, dilation):
    """Columns ``(C*kh*kw, N*Ho*Wo)`` of the zero-padded NCHW ``x``; returns (cols, Ho, Wo)."""
    xp = get_array_module(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    xpad = xp.ascontiguousarray(_pad(xp, x, ph, pw))
    s0, s1, s2, s3 = xpad.strides
    view = _as_strided(xp, xpad, (c, kh, kw, n, ho, wo), (s1, s2 * dh, s3 * dw, s0, s2 * sh, s3 * sw))
    return view.reshape(c * kh * kw, n * ho * wo), ho, wo


def col2im(cols, x_shape, kernel, stride, padding, dilation, ho, wo, out=None, serial=False):
    """Adjoint of ``im2col``: sum columns back into an NCHW gradient of ``x_shape`` (or into ``out``).

    ``serial`` runs the CPU kernel on the calling thread (for a cache-sized chunk of a batch).
    """
    xp = get_array_module(cols)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x_shape
    kernel_fn = _cpu_kernels.get("col2im_serial" if serial else "col2im", cols)
    if kernel_fn is not None and (out is None or out.flags.c_contiguous):
        gx = xp.zeros(x_shape, dtype=cols.dtype) if out is None else out
        if out is not None:
            gx[...] = 0
        kernel_fn(xp.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx)
        return gx
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    for i in range(kh):
        for j in range(kw):
            hs, ws = i * dh, j * dw
            target = gpad[:, :, hs : hs + sh * (ho - 1) + 1 : sh, ws : ws + sw * (wo - 1) + 1 : sw]
            target += cols[:, i, j].transpose(1, 0, 2, 3)
    if out is None:
        return gpad[:, :, ph : ph + h, pw : pw + w]
    out[...] = gpad[:, :, ph : ph + h, pw : pw + w]
    return out


# im2col columns of one chunk of the batch, in bytes: the chunk's columns are written,
# multiplied and (backward) scattered while they are still in the core's L2 cache,
# instead of one batch-sized column matrix making three trips through main memory
CHUNK_BYTES = 1 << 20


def chunk_size(xp, n, k, ho, wo, itemsize):
    """Images per chunk: the whole batch on the GPU, else columns of about ``CHUNK_BYTES``."""
    if xp is not np or not can_split():  # small multi-threaded GEMMs per chunk spin on a busy machine
        return n
    return max(1, min(n, CHUNK_BYTES // max(1, k * ho * wo * itemsize)))


class Conv2dFunction(Function):
    """2-D cross-correlation over NCHW input with stride, padding, dilation and groups.

    On CPU the batch is processed in chunks (``chunk_size``): each chunk's
    columns are built, multiplied and dropped; backward rebuilds them chunk by
    chunk rather than keeping a batch-sized column matrix alive. With
    ``groups=1`` on numpy the chunks go channels-last (``conv_cpu``); grouped
    convolutions and cupy use the NCHW columns below.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        o, cg, kh, kw = weight.shape
        if c != cg * groups:
            raise ShapeError(
                f"conv2d: input has {c} channels (shape {tuple(x.shape)}) but weight of shape "
                f"{tuple(weight.shape)} with groups={groups} expects {cg * groups}"
            )
        if o % groups:
            raise ShapeError(f"conv2d: out_channels={o} is not divisible by groups={groups}")
        kernel = (kh, kw)
        ho = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
        wo = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
        if min(ho, wo) <= 0:
            raise ShapeError(
                f"conv2d: kernel {kernel} (dilation {dilation}) is larger than the padded input "
                f"{(h + 2 * padding[0], w + 2 * padding[1])}"
            )
        self.cfg = (kernel, stride, padding, dilation, groups, ho, wo)
        self.x, self.weight = x, weight
        self.has_bias = bias is not None
        self.chunk = chunk_size(xp, n, c * kh * kw, ho, wo, x.dtype.itemsize)
        out = xp.empty((n, o, ho, wo), dtype=x.dtype)
        self.channels_last = xp is np and groups == 1
        if self.channels_last:  # numpy: channels-last patches (conv_cpu)
            self.wrows = conv_cpu.weight_rows(weight)

            def chunks(lo, hi):
                for n0 in range(lo, hi, self.chunk):
                    n1 = min(hi, n0 + self.chunk)
                    conv_cpu.forward_chunk(x[n0:n1], self.wrows, bias, self.cfg, out[n0:n1])

            run_ranges(n, self.chunk, chunks)
            return out

        def images(lo, hi):
            for n0 in range(lo, hi, self.chunk):
                cols = self._cols(x[n0 : min(hi, n0 + self.chunk)])
                part = self._matmul_w(cols).reshape(o, -1, ho, wo)
                if bias is not None:
                    part += bias.reshape(o, 1, 1, 1)
                out[n0 : min(hi, n0 + self.chunk)] = part.transpose(1, 0, 2, 3)

        run_ranges(n, self.chunk, images)
        return out

    def _cols(self, x):
        kernel, stride, padding, dilation = self.cfg[:4]
        return im2col(x, kernel, stride, padding, dilation)[0]

    def _matmul_w(self, cols):
        """``W @ cols`` per group: (O, chunk*Ho*Wo)."""
        groups, weight = self.cfg[4], self.weight
        o, k = weight.shape[0], weight[0].size
        w2 = weight.reshape(groups, o // groups, k)
        if groups == 1:
            return w2[0] @ cols
        return (w2 @ cols.reshape(groups, k, -1)).reshape(o, -1)

    def backward(self, g):
        xp = get_array_module(g)
        kernel, stride, padding, dilation, groups, ho, wo = self.cfg
        weight, x = self.weight, self.x
        o, cg, kh, kw = weight.shape
        k = cg * kh * kw
        want_x, want_w = self.needs_input_grad[0], self.needs_input_grad[1]
        if self.channels_last:
            return self._backward_channels_last(g, want_x, want_w)
        gx = xp.empty(x.shape, dtype=g.dtype) if want_x else None
        w2 = weight.reshape(groups, o // groups, k)
        serial = self.chunk < x.shape[0]

        def images(lo, hi):
            gw = xp.zeros((groups, o // groups, k), dtype=g.dtype) if want_w else None
            for n0 in range(lo, hi, self.chunk):
                n1 = min(hi, n0 + self.chunk)
                gc = g[n0:n1]
                g2 = (gc.reshape(groups, o // groups, -1) if gc.shape[0] == 1
                      else gc.transpose(1, 0, 2, 3).reshape(groups, o // groups, -1))  # (G, O/G, chunk*Ho*Wo)
                if want_w:
                    cols = self._cols(x[n0:n1]).reshape(groups, k, -1)
                    # (cols @ g.T).T streams both operands in their stored order: faster than g @ cols.T
                    if groups == 1:
                        gw[0] += (cols[0] @ g2[0].T).T
                    else:
                        gw += (cols @ g2.transpose(0, 2, 1)).transpose(0, 2, 1)
                if want_x:
                    if groups == 1:
                        gcols = w2[0].T @ g2[0]
                    else:
                        gcols = (w2.transpose(0, 2, 1) @ g2).reshape(groups * k, -1)
                    col2im(gcols, gc.shape[:1] + x.shape[1:], kernel, stride, padding, dilation, ho, wo,
                           out=gx[n0:n1], serial=serial)
            return gw

        partial = run_ranges(x.shape[0], self.chunk, images)
        gw = functools.reduce(operator.add, partial).reshape(weight.shape) if want_w else None
        return gx, gw, self._bias_grad(g)

    def _bias_grad(self, g):
        return g.sum(axis=(0, 2, 3)) if self.has_bias and self.needs_input_grad[2] else None

    def _backward_channels_last(self, g, want_x, want_w):
        x, weight = self.x, self.weight
        gx = np.empty(x.shape, dtype=g.dtype) if want_x else None
        chunk = self.chunk
        if want_x:  # the input gradient's patches have O channels per tap (and H*W rows): size chunks for them too
            n, c, h, w = x.shape
            o, _, kh, kw = weight.shape
            rows = max(h * w, self.cfg[5] * self.cfg[6])  # H*W (full convolution) or Ho*Wo (scatter)
            chunk = min(chunk, chunk_size(np, n, kh * kw * max(c, o), rows, 1, x.dtype.itemsize))

        def chunks(lo, hi):
            gw_rows = np.zeros(self.wrows.shape, dtype=g.dtype) if want_w else None
            for n0 in range(lo, hi, chunk):
                n1 = min(hi, n0 + chunk)
                conv_cpu.backward_chunk(g[n0:n1], x[n0:n1], self.wrows, self.cfg, gw_rows,
                                        gx[n0:n1] if want_x else None)
            return gw_rows

        partial = run_ranges(x.shape[0], chunk, chunks)
        gw = conv_cpu.weight_grad(functools.reduce(operator.add, partial), weight.shape) if want_w else None
        return gx, gw, self._bias_grad(g)


def _conv_padding(padding, kernel, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if any(t % 2 for t in total):
                raise ValueError(
                    f"conv2d: padding='same' needs an even total padding; kernel {kernel} with "
                    f"dilation {dilation} gives {tuple(total)} (use explicit padding instead)"
                )
            return (total[0] // 2, total[1] // 2)
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    return pair(padding, "padding")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over NCHW or unbatched CHW input, torch's arguments."""
    from ...autograd import ops

    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out, in/groups, kh, kw), got shape {weight.shape}")
    if input.ndim not in (3, 4):
        raise ValueError(f"conv2d: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be >= 1, got {stride} and {dilation}")
    pad = _conv_padding(padding, weight.shape[2:], dilation, stride)
    unbatched = input.ndim == 3
    if unbatched:
        input = ops.reshape(input, (1,) + input.shape)
    out = Conv2dFunction.apply(
        input, weight, bias, stride=stride, padding=pad, dilation=dilation, groups=int(groups)
    )
    return ops.reshape(out, out.shape[1:]) if unbatched else out
