"""Pooling over NCHW input: max, average and adaptive average.

Max and average pooling walk the ``kh*kw`` kernel offsets; each offset is a
strided view of the padded input of output size, so every step is one
vectorised elementwise op and no window copy is made (this beat a numba loop
with an argmax, whose data-dependent branch mispredicts on real activations). Adaptive average
pooling is separable: ``A_h @ x @ A_w.T`` with two small averaging matrices.
"""
from __future__ import annotations

from ...autograd import ops
from ...autograd.function import Function
from ...backend import get_array_module
from . import _cpu_kernels
from ._utils import pair


def pool_output_size(size, k, s, p, d, ceil_mode):
    """torch's pooling output length (the last window must start inside input or left padding)."""
    if p > (d * (k - 1) + 1) // 2:
        raise ValueError(
            f"pad should be at most half of effective kernel size, got padding={p}, kernel_size={k}, dilation={d}"
        )
    num = size + 2 * p - d * (k - 1) - 1
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    if out <= 0:
        raise ValueError(f"pooling: output size {out} is too small for input size {size} and kernel {k}")
    return out


class _PoolGeometry:
    """Output size and padded extent of a 2-D pooling window set."""

    def __init__(self, shape, kernel, stride, padding, dilation, ceil_mode):
        h, w = shape[-2:]
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.out = (
            pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
            pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode),
        )
        # padded extent: left padding + whatever the last window reaches
        self.padded = tuple(
            max(n + p, (o - 1) * s + d * (k - 1) + 1)
            for n, p, o, s, d, k in zip((h, w), padding, self.out, stride, dilation, kernel)
        )
        self.shape = shape

    def pad(self, x, fill):
        xp = get_array_module(x)
        (ph, pw), (hp, wp) = self.padding, self.padded
        h, w = x.shape[-2:]
        if (ph, pw) == (0, 0) and (hp, wp) == (h, w):
            return x
        out = xp.full(x.shape[:-2] + (hp, wp), fill, dtype=x.dtype)
        out[..., ph : ph + h, pw : pw + w] = x
        return out

    def crop(self, xpad):
        (ph, pw), (h, w) = self.padding, self.shape[-2:]
        return xpad[..., ph : ph + h, pw : pw + w]

    def views(self, xpad):
        """Yield (offset index, strided view of output size) for each kernel offset."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out
        for i in range(kh):
            for j in range(kw):
                hs, ws = i * dh, j * dw
                yield i * kw + j, xpad[..., hs : hs + sh * (ho - 1) + 1 : sh, ws : ws + sw * (wo - 1) + 1 : sw]


class MaxPool2dFunction(Function):
    """Window maximum as a chain of ``maximum`` over the kernel offsets' strided views.

    The offset of each maximum (``idx``, small ints) is found with vectorised
    compares, keeping the *first* offset that equals the maximum: torch's
    choice for ties (with NaN, the first NaN). Backward scatters the gradient
    there: a numba loop on CPU, ``kh*kw`` strided adds elsewhere (cupy).
    The usual 2x2 / stride 2 pool runs as one numba pass each way on CPU
    (``_cpu_kernels``), with the same offsets and routing.
    """

    def forward(self, x, geometry):
        xp = get_array_module(x)
        self.geo, self.x_shape = geometry, x.shape
        self.fast = self._fast_kernel("maxpool2x2_forward", x)
        if self.fast is not None:
            x = xp.ascontiguousarray(x)
            out = xp.empty(x.shape[:2] + geometry.out, dtype=x.dtype)
            self.idx = xp.empty(out.shape, dtype=xp.int8)
            self.xpad_shape = x.shape  # no padding: the generic backward can take these offsets too
            self.fast(x, out, self.idx)
            return out
        xpad = geometry.pad(x, -xp.inf)
        views = list(geometry.views(xpad))
        out = views[0][1].copy()
        for _, v in views[1:]:
            xp.maximum(out, v, out=out)  # propagates NaN like torch
        itype = xp.int8 if len(views) < 128 else xp.int32
        idx = xp.zeros(out.shape, dtype=itype)
        nan_out = xp.isnan(out) if bool(xp.isnan(out).any()) else None
        found = None
        for k, v in views:  # offset of the first input equal to the max (bool arithmetic, no branches)
            hit = v == out
            if nan_out is not None:
                hit |= nan_out & xp.isnan(v)
            if found is None:
                found = hit
                continue
            hit &= ~found
            found |= hit
            idx += hit.astype(itype) * itype(k)
        self.idx, self.xpad_shape = idx, xpad.shape
        return out

    def _fast_kernel(self, name, x):
        """The 2x2 / stride 2 numba kernel ``name`` when the windows are that and lie inside the input."""
        geo = self.geo
        if x.ndim != 4 or (geo.kernel, geo.stride, geo.padding, geo.dilation) != ((2, 2), (2, 2), (0, 0), (1, 1)):
            return None
        if geo.out != (x.shape[2] // 2, x.shape[3] // 2):  # ceil_mode's partial last window
            return None
        return _cpu_kernels.get(name, x)

    def backward(self, g):
        xp = get_array_module(g)
        geo = self.geo
        if self.fast is not None and (fast := self._fast_kernel("maxpool2x2_backward", g)) is not None:
            gx = xp.empty(self.x_shape, dtype=g.dtype)
            fast(xp.ascontiguousarray(g), self.idx, gx)
            return gx
        kernel_fn = _cpu_kernels.get("maxpool_backward", g) if g.ndim == 4 else None
        if kernel_fn is not None:
            gx = xp.zeros(self.x_shape, dtype=g.dtype)
            kernel_fn(xp.ascontiguousarray(g), self.idx, *geo.kernel, *geo.stride, *geo.padding, *geo.dilation, gx)
            return gx
        gpad = xp.zeros(self.xpad_shape, dtype=g.dtype)
        zero = g.dtype.type(0)
        for k, v in geo.views(gpad):
            v += xp.where(self.idx == k, g, zero)
        return geo.crop(gpad)

    def indices(self):
        """Flat ``h * W + w`` input indices of each maximum (torch's ``return_indices``)."""
        xp = get_array_module(self.idx)
        idx = self.idx.astype(xp.int64)
        (_, kw), (sh, sw), (dh, dw) = self.geo.kernel, self.geo.stride, self.geo.dilation
        (ph, pw), (ho, wo), w = self.geo.padding, self.geo.out, self.geo.shape[-1]
        oh = xp.arange(ho).reshape(-1, 1) * sh - ph
        ow = xp.arange(wo).reshape(1, -1) * sw - pw
        return (oh + (idx // kw) * dh) * w + ow + (idx % kw) * dw


class AvgPool2dFunction(Function):
    def forward(self, x, geometry, count_include_pad=True, divisor_override=None):
        xp = get_array_module(x)
        self.geo = geometry
        xpad = geometry.pad(x, 0)
        out = None
        for _, v in geometry.views(xpad):
            out = v.copy() if out is None else out.__iadd__(v)
        if divisor_override:
            self.div = x.dtype.type(divisor_override)
        else:
            # count the cells each window covers: inside input+padding, or inside the input only
            (ph, pw), (h, w) = geometry.padding, geometry.shape[-2:]
            ones = xp.zeros(geometry.padded, dtype=x.dtype)
            if count_include_pad:
                ones[: h + 2 * ph, : w + 2 * pw] = 1
            else:
                ones[ph : ph + h, pw : pw + w] = 1
            self.div = sum(v for _, v in geometry.views(ones))
        self.xpad_shape = xpad.shape
        out /= self.div
        return out

    def backward(self, g):
        xp = get_array_module(g)
        gpad = xp.zeros(self.xpad_shape, dtype=g.dtype)
        gs = g / self.div
        for _, v in self.geo.views(gpad):
            v += gs
        return self.geo.crop(gpad)


def _pool_args(input, kernel_size, stride, padding, dilation, op):
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else pair(stride, "stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{op}: kernel_size and stride must be >= 1, got {kernel} and {stride}")
    return kernel, stride, pair(padding, "padding"), pair(dilation, "dilation")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window; ties and gradients go to the first maximum, like torch."""
    kernel, stride, padding, dilation = _pool_args(input, kernel_size, stride, padding, dilation, "max_pool2d")
    geo = _PoolGeometry(input.shape, kernel, stride, padding, dilation, ceil_mode)
    out = MaxPool2dFunction.apply(input, geometry=geo)
    if return_indices:
        from ...autograd.tensor import Tensor

        fn = out._ctx
        if fn is None:  # no graph recorded: recompute to get the indices
            fn = MaxPool2dFunction()
            fn.forward(input.array, geometry=geo)
        return out, Tensor._wrap(fn.indices(), False)
    return out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window (torch's divisor rules for padding and ``ceil_mode``)."""
    kernel, stride, padding, dilation = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d")
    geo = _PoolGeometry(input.shape, kernel, stride, padding, dilation, ceil_mode)
    return AvgPool2dFunction.apply(
        input, geometry=geo, count_include_pad=count_include_pad, divisor_override=divisor_override
    )


def _adaptive_matrix(xp, size, out, dtype):
    """(out, size) averaging matrix of torch's adaptive windows [floor(i*n/o), ceil((i+1)*n/o))."""
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


class AdaptiveAvgPool2dFunction(Function):
    def forward(self, x, output_size):
        xp = get_array_module(x)
        self.ah = _adaptive_matrix(xp, x.shape[-2], output_size[0], x.dtype)
        self.aw = _adaptive_matrix(xp, x.shape[-1], output_size[1], x.dtype)
        return self.ah @ (x @ self.aw.T)

    def backward(self, g):
        return self.ah.T @ (g @ self.aw)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed ``output_size`` (``None`` in a pair keeps that input size)."""
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected 3-D or 4-D input, got shape {input.shape}")
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    size = tuple(input.shape[-2 + i] if s is None else int(s) for i, s in enumerate(output_size))
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    return AdaptiveAvgPool2dFunction.apply(input, output_size=size)


def flatten(input, start_dim: int = 1, end_dim: int = -1):
    """Merge dims ``start_dim..end_dim`` into one (a reshape)."""
    nd = max(input.ndim, 1)
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape
    size = 1
    for n in shape[s : e + 1]:
        size *= n
    return ops.reshape(input, shape[:s] + (size,) + shape[e + 1 :])
