"""Indexing: ``x[index]`` (``getitem``) and ``x[index] = value`` (``setitem``).

Indices follow numpy's rules (ints, slices, None, ``...``, bool masks, integer
arrays, lists and Tensors), moved to the data's device first. Reading an
integer-array index may repeat elements, so its backward scatter-adds.
Assignment is in place outside the graph and copy-on-write inside it.
"""
from __future__ import annotations

import numpy as np

from ..backend import device_of, get_array_module, scatter_add, to_device
from .function import Function, unbroadcast
from .grad_mode import is_grad_enabled
from .tensor import Tensor

__all__ = ["GetItem", "getitem", "setitem"]


class GetItem(Function):
    """``a[index]``; backward writes (basic index) or scatter-adds (array index) into zeros."""

    name = "index"

    def forward(self, a, index, advanced=False):
        self.index, self.shape, self.advanced = index, a.shape, advanced
        return a[index]

    def backward(self, g):
        xp = get_array_module(g)
        grad = xp.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            scatter_add(grad, self.index, g)  # repeated indices add up
        else:
            grad[self.index] = g
        return grad


_BASIC = (int, np.integer, slice, type(None), type(Ellipsis))


def convert_index(index, xp, device):
    """Turn a user index into one numpy/cupy understand, on the data's device.

    Returns ``(index, advanced)``: ``advanced`` is True when an integer array
    appears (so indices may repeat and backward must scatter-add).
    """
    items = index if isinstance(index, tuple) else (index,)
    out, advanced = [], False
    for item in items:
        if isinstance(item, bool):
            item = xp.asarray(item)
        if isinstance(item, _BASIC):
            out.append(item)
            continue
        if isinstance(item, Tensor):
            item = item.array
        if isinstance(item, (list, range)):
            item = np.asarray(item)
            if item.dtype.kind == "f":
                raise IndexError(f"tensors used as indices must be long or bool, got {item.dtype}")
        if not hasattr(item, "dtype"):
            raise IndexError(
                f"only integers, slices, None, Ellipsis, bool/integer tensors, arrays and lists are "
                f"valid indices, got {type(item).__name__}"
            )
        if item.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be long or bool, got dtype {item.dtype}")
        if device_of(item) != device:
            item = to_device(item, device)
        if item.dtype.kind != "b":
            advanced = True
        out.append(item)
    return (tuple(out) if isinstance(index, tuple) else out[0]), advanced


def getitem(input, index):  # noqa: A002
    """``input[index]`` with numpy's rules: ints, slices, None, ..., bool masks, int arrays."""
    data = input.array
    index, advanced = convert_index(index, get_array_module(data), device_of(data))
    if not input.requires_grad:
        return Tensor._wrap(data[index], False)
    return GetItem.apply(input, index=index, advanced=advanced)


class SetItem(Function):
    """``out = a.copy(); out[index] = value`` as a graph node (what ``a[index] = value`` records).

    Backward sends the gradient of the assigned region to ``value`` (summed over
    the axes it was broadcast along) and the rest to ``a`` (zero where
    overwritten), as torch's ``index_put_`` does.
    """

    name = "setitem"

    def forward(self, a, value, index, advanced=False):
        out = a.copy()
        out[index] = value
        self.index, self.value_shape = index, getattr(value, "shape", ())
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = g.copy()
            ga[self.index] = 0
        if self.needs_input_grad[1]:
            region = g[self.index]
            shape = tuple(self.value_shape)
            if region.ndim < len(shape):  # value had extra leading 1-dims, e.g. (1, 4) into (4,)
                region = region.reshape((1,) * (len(shape) - region.ndim) + region.shape)
            gv = unbroadcast(region, shape)
        return ga, gv


def setitem(input, index, value):  # noqa: A002
    """``input[index] = value``.

    Outside the graph (nothing requires grad, or inside ``no_grad()``) the array
    is written in place. When ``value`` requires grad, or ``input`` is an
    intermediate result of the graph, the assignment is recorded as a
    differentiable op (copy-on-write): ``input`` becomes a new graph node
    whose gradient flows to ``value`` for the assigned region and to the old
    ``input`` elsewhere, as in torch. Views taken of ``input`` earlier keep the
    old values in that case. A leaf that requires grad cannot be assigned into
    while recording, as in torch.
    """
    data = input.array
    xp = get_array_module(data)
    value_requires = isinstance(value, Tensor) and value.requires_grad
    if is_grad_enabled() and (input.requires_grad or value_requires):
        if input.requires_grad and input.is_leaf:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation "
                "(x[index] = value); wrap it in trainkit.no_grad() or write to x.data"
            )
        if value_requires and data.dtype.kind not in "fc":
            raise RuntimeError(
                f"cannot assign a tensor that requires grad into a tensor of dtype {data.dtype}: "
                "only floating point tensors can carry gradients; convert with .float() first"
            )
        index, advanced = convert_index(index, xp, device_of(data))
        old = Tensor._wrap(data, input.requires_grad)
        old._ctx = input._ctx
        if not isinstance(value, Tensor):
            value = Tensor._wrap(xp.asarray(value, dtype=data.dtype), False)
        result = SetItem.apply(old, value, index=index, advanced=advanced)
        input.array, input._ctx, input.requires_grad = result.array, result._ctx, True
        return
    index, _ = convert_index(index, xp, device_of(data))
    data[index] = value.array if isinstance(value, Tensor) else value
