"""Dimension arguments as torch takes them: ``normalize_dim`` and ``normalize_dims``.

Shared by reductions and shape ops, so that every op accepts negative dims and
raises the same ``IndexError`` (naming the accepted range) for one out of range.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


def normalize_dim(dim, ndim: int, op: str = "dim") -> int:
    """``dim`` as a non-negative axis, or IndexError with torch's wording."""
    if isinstance(dim, Tensor):
        dim = int(dim.item())
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    low, high = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not low <= dim <= high:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{low}, {high}], but got {dim})"
        )
    return int(dim) % max(ndim, 1)


def normalize_dims(dim, ndim: int, op: str = "dim"):
    """None (all axes) or a sorted tuple of non-negative axes."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
        return axes if axes else None  # torch: dim=() means all dims
    return (normalize_dim(dim, ndim, op),)
