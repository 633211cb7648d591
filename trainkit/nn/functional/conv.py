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

from ...autograd.function import Function, ShapeError
from ...backend import get_array_module
from . import _cpu_kernels
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


def col2im(cols, x_shape, kernel, stride, padding, dilation, ho, wo):
    """Adjoint of ``im2col``: sum columns back into an NCHW gradient of ``x_shape``."""
    xp = get_array_module(cols)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x_shape
    kernel_fn = _cpu_kernels.get("col2im", cols)
    if kernel_fn is not None:
        gx = xp.zeros(x_shape, dtype=cols.dtype)
        kernel_fn(xp.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, gx)
        return gx
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    for i in range(kh):
        for j in range(kw):
            hs, ws = i * dh, j * dw
            target = gpad[:, :, hs : hs + sh * (ho - 1) + 1 : sh, ws : ws + sw * (wo - 1) + 1 : sw]
            target += cols[:, i, j].transpose(1, 0, 2, 3)
    return gpad[:, :, ph : ph + h, pw : pw + w]


class Conv2dFunction(Function):
    """2-D cross-correlation over NCHW input with stride, padding, dilation and groups."""

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
        if min(conv_output_size(h, kh, stride[0], padding[0], dilation[0]),
               conv_output_size(w, kw, stride[1], padding[1], dilation[1])) <= 0:
            raise ShapeError(
                f"conv2d: kernel {kernel} (dilation {dilation}) is larger than the padded input "
                f"{(h + 2 * padding[0], w + 2 * padding[1])}"
            )
        cols, ho, wo = im2col(x, kernel, stride, padding, dilation)
        self.cfg = (kernel, stride, padding, dilation, groups, ho, wo)
        self.x_shape, self.weight = x.shape, weight
        self.has_bias = bias is not None
        w2 = weight.reshape(groups, o // groups, cg * kh * kw)
        if groups == 1:
            out = w2[0] @ cols
        else:
            out = (w2 @ cols.reshape(groups, cg * kh * kw, -1)).reshape(o, -1)
        self.cols = cols
        out = out.reshape(o, n, ho, wo)
        if bias is not None:
            out += bias.reshape(o, 1, 1, 1)
        return xp.ascontiguousarray(out.transpose(1, 0, 2, 3))

    def backward(self, g):
        xp = get_array_module(g)
        kernel, stride, padding, dilation, groups, ho, wo = self.cfg
        weight, cols = self.weight, self.cols
        o, cg, kh, kw = weight.shape
        k = cg * kh * kw
        g2 = g.transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)  # (G, O/G, N*Ho*Wo)
        gx = gw = gb = None
        if self.needs_input_grad[1]:
            # (cols @ g.T).T streams both operands in their stored order: faster than g @ cols.T
            if groups == 1:
                gw = xp.ascontiguousarray((cols @ g2[0].T).T).reshape(weight.shape)
            else:
                gw = xp.ascontiguousarray(
                    (cols.reshape(groups, k, -1) @ g2.transpose(0, 2, 1)).transpose(0, 2, 1)
                ).reshape(weight.shape)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        if self.needs_input_grad[0]:
            w2 = weight.reshape(groups, o // groups, k)
            if groups == 1:
                gcols = w2[0].T @ g2[0]
            else:
                gcols = (w2.transpose(0, 2, 1) @ g2).reshape(groups * k, -1)
            gx = col2im(gcols, self.x_shape, kernel, stride, padding, dilation, ho, wo)
        return gx, gw, gb


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
