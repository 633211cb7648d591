"""Ops that move elements around: reshape/view, permute, expand, cat, stack, split.

Their backward passes only route gradients (reshape back, transpose back,
slice apart), so they are exact in every dtype.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .dims import normalize_dim
from .errors import ShapeError
from .function import Function, unbroadcast
from .tensor import Tensor

__all__ = [
    "Cat", "Expand", "Reshape", "Stack", "Transpose",
    "broadcast_to", "cat", "chunk", "concat", "concatenate", "expand", "expand_as", "flatten",
    "permute", "reshape", "split", "squeeze", "stack", "swapaxes", "t", "transpose", "unbind",
    "unflatten", "unsqueeze", "view",
]


def _sizes(sizes) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean shape (2, 3)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    return tuple(int(s) for s in sizes)


# ---------------------------------------------------------------- reshape family
class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"view/reshape: shape {list(shape)} is invalid for input of shape "
                f"{tuple(a.shape)} (size {a.size})"
            ) from None

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    """General axis permutation (``permute``); ``transpose(d0, d1)`` and ``.T`` use it."""

    name = "permute"

    def forward(self, a, axes=None):
        if axes is None:
            axes = tuple(reversed(range(a.ndim)))
        self.axes = axes
        return get_array_module(a).transpose(a, axes)

    def backward(self, g):
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return get_array_module(g).transpose(g, inverse)


class Expand(Function):
    """Broadcast to a larger shape (a read-only view); backward sums the copies."""

    name = "expand"

    def forward(self, a, shape):
        self.shape = a.shape
        return get_array_module(a).broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.shape)


def reshape(input, *shape):  # noqa: A002
    """Same elements in a new shape; one dimension may be -1 (inferred)."""
    return Reshape.apply(input, shape=_sizes(shape))


view = reshape


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    """Merge dims ``start_dim..end_dim`` into one (``flatten(x, 1)`` keeps the batch axis)."""
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise ValueError(
            f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})"
        )
    shape = input.shape
    merged = int(np.prod(shape[start : end + 1], dtype=np.int64))
    return Reshape.apply(input, shape=shape[:start] + (merged,) + shape[end + 1 :])


def unflatten(input, dim, sizes):  # noqa: A002
    """Split ``dim`` into ``sizes`` (the inverse of flatten)."""
    axis = normalize_dim(dim, input.ndim, "unflatten")
    shape = input.shape
    return reshape(input, shape[:axis] + tuple(sizes) + shape[axis + 1 :])


def squeeze(input, dim=None):  # noqa: A002
    """Drop size-1 dims (all, or those in ``dim``; a non-1 ``dim`` is left alone, as torch)."""
    shape = input.shape
    if dim is None:
        axes = set(range(len(shape)))
    elif isinstance(dim, (tuple, list)):
        axes = {normalize_dim(d, input.ndim, "squeeze") for d in dim}
    else:
        axes = {normalize_dim(dim, input.ndim, "squeeze")}
    new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return Reshape.apply(input, shape=new)


def unsqueeze(input, dim):  # noqa: A002
    """Insert a size-1 dim at ``dim`` (``-1`` appends)."""
    axis = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    shape = input.shape
    return Reshape.apply(input, shape=shape[:axis] + (1,) + shape[axis:])


def permute(input, *dims):  # noqa: A002
    """Reorder all axes: ``x.permute(0, 2, 1)``."""
    dims = _sizes(dims)
    if len(dims) != input.ndim:
        raise ValueError(
            f"permute: number of dims {len(dims)} does not match the tensor's {input.ndim} dims"
        )
    axes = tuple(normalize_dim(d, input.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"permute: repeated dim in {dims}")
    return Transpose.apply(input, axes=axes)


def transpose(input, dim0, dim1):  # noqa: A002
    """Swap two axes."""
    axes = list(range(input.ndim))
    d0 = normalize_dim(dim0, input.ndim, "transpose")
    d1 = normalize_dim(dim1, input.ndim, "transpose")
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return Transpose.apply(input, axes=tuple(axes))


swapaxes = transpose


def t(input):  # noqa: A002
    """Transpose a tensor of at most 2 dims (``x.t()``)."""
    if input.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but it has {input.ndim}")
    return Transpose.apply(input) if input.ndim == 2 else input


def expand(input, *sizes):  # noqa: A002
    """Broadcast to ``sizes`` (-1 keeps a dim); gradients are summed back."""
    sizes = _sizes(sizes)
    shape = input.shape
    if len(sizes) < len(shape):
        raise ShapeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's dims "
            f"({len(shape)}); got sizes {list(sizes)} for shape {shape}"
        )
    lead = len(sizes) - len(shape)
    target = tuple(
        (shape[i - lead] if s == -1 and i >= lead else s) for i, s in enumerate(sizes)
    )
    for i, n in enumerate(shape):
        if n != 1 and n != target[i + lead]:
            raise ShapeError(
                f"expand: size {n} of dim {i} of shape {shape} cannot expand to {target[i + lead]} "
                f"(target {list(sizes)})"
            )
    return Expand.apply(input, shape=target)


def broadcast_to(input, shape):  # noqa: A002
    return expand(input, *_sizes((shape,)))


def expand_as(input, other):  # noqa: A002
    return expand(input, other.shape)


# ---------------------------------------------------------------- joining
class Cat(Function):
    def forward(self, *arrays, axis=0):
        xp = get_array_module(*arrays)
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1].tolist()
        return xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        xp = get_array_module(g)
        return tuple(xp.split(g, self.bounds, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        return get_array_module(*arrays).stack(arrays, axis=axis)

    def backward(self, g):
        return tuple(g[(slice(None),) * self.axis + (i,)] for i in range(g.shape[self.axis]))


def _sequence(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}() expects a list or tuple of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name}() expects a non-empty list of Tensors")
    return tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)


def cat(tensors, dim=0):
    """Join tensors along an existing ``dim``; other dims must match."""
    tensors = _sequence(tensors, "cat")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dim(dim, ndim, "cat")
    for i, x in enumerate(tensors[1:], start=1):
        ref, other = tensors[0].shape, x.shape
        if len(other) != ndim or any(
            a != b for j, (a, b) in enumerate(zip(ref, other)) if j != axis
        ):
            raise ShapeError(
                f"cat: tensor 0 has shape {ref} but tensor {i} has shape {other}; sizes must match "
                f"except in dim {dim}"
            )
    return Cat.apply(*tensors, axis=axis)


concat = cat
concatenate = cat


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new ``dim``."""
    tensors = _sequence(tensors, "stack")
    ref = tensors[0].shape
    for i, x in enumerate(tensors[1:], start=1):
        if x.shape != ref:
            raise ShapeError(
                f"stack expects each tensor to be equal size, but got {ref} at entry 0 and "
                f"{x.shape} at entry {i}"
            )
    axis = normalize_dim(dim, len(ref) + 1, "stack")
    return Stack.apply(*tensors, axis=axis)


def split(input, split_size_or_sections, dim=0):  # noqa: A002
    """Chunks of ``split_size`` (last may be smaller) or of the listed sizes, along ``dim``."""
    axis = normalize_dim(dim, input.ndim, "split")
    n = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [step if s + step <= n else n - s for s in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if np.sum(sizes) != n:
            raise ShapeError(
                f"split: sizes {sizes} sum to {int(np.sum(sizes))} but dim {dim} has size {n}"
            )
    out, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        out.append(input[index])
        start += size
    return tuple(out)


def chunk(input, chunks, dim=0):  # noqa: A002
    """``chunks`` pieces of equal size (the last may be smaller), as torch.chunk."""
    axis = normalize_dim(dim, input.ndim, "chunk")
    n = input.shape[axis]
    return split(input, -(-n // chunks) or 1, axis)


def unbind(input, dim=0):  # noqa: A002
    """The slices along ``dim``, as a tuple."""
    axis = normalize_dim(dim, input.ndim, "unbind")
    return tuple(input[(slice(None),) * axis + (i,)] for i in range(input.shape[axis]))
