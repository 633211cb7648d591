"""Batch and layer normalisation as fused autograd nodes (closed-form backward)."""
from __future__ import annotations

from ...autograd.function import Function, ShapeError
from ...backend import get_array_module
from . import _layer_norm_kernels


def _channel_view(a, ndim):
    """Shape a per-channel (C,) array to broadcast against (N, C, *spatial)."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNormFunction(Function):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over channel dim 1.

    In training the batch statistics are used and the running buffers are
    updated in place (unbiased variance, as torch); in eval the running ones.
    """

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        self.axes, self.ndim = axes, x.ndim
        t = x.dtype.type
        if training:
            count = x.size // x.shape[1]
            if count <= 1:
                raise ShapeError(
                    f"Expected more than 1 value per channel when training, got input of shape {tuple(x.shape)}"
                )
            mean = x.mean(axis=axes)
            centered = x - _channel_view(mean, x.ndim)
            var = (centered * centered).mean(axis=axes)
            if running_mean is not None:
                m = t(momentum)
                running_mean *= 1 - m
                running_mean += m * mean.astype(running_mean.dtype, copy=False)
                running_var *= 1 - m
                running_var += (m * var * t(count / (count - 1))).astype(running_var.dtype, copy=False)
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
            centered = x - _channel_view(mean, x.ndim)
        invstd = 1 / xp.sqrt(var + t(eps))
        xhat = centered * _channel_view(invstd, x.ndim)
        self.training, self.invstd, self.xhat, self.weight = training, invstd, xhat, weight
        self.has_bias = bias is not None
        out = xhat * _channel_view(weight, x.ndim) if weight is not None else xhat.copy()
        if bias is not None:
            out += _channel_view(bias, x.ndim)
        return out

    def backward(self, g):
        xhat, invstd, w, axes, nd = self.xhat, self.invstd, self.weight, self.axes, self.ndim
        gx = gw = gb = None
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        need_b = self.has_bias and self.needs_input_grad[2]
        gsum = g.sum(axis=axes) if (need_b or (need_x and self.training)) else None
        gxhat_sum = (g * xhat).sum(axis=axes) if (need_w or (need_x and self.training)) else None
        if need_w and w is not None:
            gw = gxhat_sum
        if need_b:
            gb = gsum
        if need_x:
            scale = invstd if w is None else invstd * w
            if self.training:
                count = xhat.size // xhat.shape[1]
                mg = _channel_view(gsum / count, nd)
                mgx = _channel_view(gxhat_sum / count, nd)
                gx = (g - mg - xhat * mgx) * _channel_view(scale, nd)
            else:
                gx = g * _channel_view(scale, nd)
        return gx, gw, gb


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise over the batch (and spatial dims) per channel; see ``BatchNorm2d``.

    ``running_mean``/``running_var`` are Tensors (or None); in training they are
    updated in place. ``momentum=None`` is handled by the module (cumulative average).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of at least 2 dims (N, C, ...), got shape {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)} but input has {c} channels")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return BatchNormFunction.apply(input, weight, bias, running_mean=rm, running_var=rv,
                                   training=training, momentum=momentum, eps=eps)


class LayerNormFunction(Function):
    """Normalise over the trailing ``len(normalized_shape)`` dims of each sample.

    On CPU (numpy float32/64, numba usable) the fused row kernels of
    :mod:`._layer_norm_kernels` run; this numpy code is the reference and the GPU path.
    """

    def forward(self, x, weight=None, bias=None, n_dims=1, eps=1e-5):
        self.has_bias, self.weight, self.fused = bias is not None, weight, None
        if all(a is None or a.dtype == x.dtype for a in (weight, bias)):  # else numpy's promotion, below
            out = _layer_norm_kernels.forward(x, weight, bias, n_dims, eps)  # None where the kernels cannot run
            if out is not None:
                y, self.fused = out
                return y
        xp = get_array_module(x)
        axes = tuple(range(x.ndim - n_dims, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
        xhat = centered * invstd
        self.axes, self.xhat, self.invstd = axes, xhat, invstd
        out = xhat * weight if weight is not None else xhat.copy()
        if bias is not None:
            out += bias
        return out

    def backward(self, g):
        if self.fused is not None:
            gx, gw, gb = _layer_norm_kernels.backward(g, self.fused, self.weight)
            need = self.needs_input_grad
            return (gx if need[0] else None, gw if self.weight is not None and need[1] else None,
                    gb if self.has_bias and need[2] else None)
        xhat, invstd, w, axes = self.xhat, self.invstd, self.weight, self.axes
        lead = tuple(range(g.ndim - len(axes)))
        gx = gw = gb = None
        if self.needs_input_grad[1]:
            gw = (g * xhat).sum(axis=lead)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g.sum(axis=lead)
        if self.needs_input_grad[0]:
            gxhat = g * w if w is not None else g
            gx = invstd * (
                gxhat - gxhat.mean(axis=axes, keepdims=True)
                - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
            )
        return gx, gw, gb


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """torch's ``layer_norm``: statistics over the trailing ``normalized_shape`` dims."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    n = len(normalized_shape)
    if tuple(input.shape[input.ndim - n:]) != normalized_shape or input.ndim < n:
        raise ValueError(
            f"layer_norm: input shape {tuple(input.shape)} does not end with normalized_shape {normalized_shape}"
        )
    return LayerNormFunction.apply(input, weight, bias, n_dims=n, eps=eps)
