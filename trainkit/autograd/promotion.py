"""torch's dtype promotion: the dtype a binary op gives a tensor pair or a tensor and a scalar.

Two rules, both torch's rather than numpy's:

* tensor with Python scalar (``as_array_like``, ``promote_for_scalar``): the
  scalar takes the tensor's dtype, so ``float32 * 2.0`` stays float32; an
  integer or bool tensor meeting a float becomes float32 (the default dtype).
* tensor with tensor (``result_dtype``, ``promote_tensors``): the higher
  category (bool < int < float < complex) wins unchanged, so float32 with
  int64 is float32; a 0-d tensor counts only when it is of a higher category.

``binary_operands`` applies them to the two operands of every binary op.
``nn.functional`` losses use ``promote_tensors`` for input/target pairs.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .conversion import to
from .tensor import DEFAULT_DTYPE, Tensor


def _arr(x, like):
    """Operand as an array compatible with ``like`` (Python scalars take like's dtype)."""
    if isinstance(x, Tensor):
        return x
    return as_array_like(x, like.array if isinstance(like, Tensor) else like)


def promote_for_scalar(t, scalar):
    """An integer tensor meeting a float scalar becomes float32 (torch's default dtype)."""
    if isinstance(scalar, (float, np.floating)) and t.array.dtype.kind in "iub":
        return to(t, dtype=DEFAULT_DTYPE)
    return t


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_dtypes(a, b):
    """torch's ``promote_types``: across categories (bool < int < float < complex) the
    higher category's dtype wins unchanged (float32 with int64 is float32); within one
    category the wider dtype (numpy's rule)."""
    ca, cb = _CATEGORY.get(a.kind, 2), _CATEGORY.get(b.kind, 2)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_dtype(a, b):
    """The dtype torch gives a binary op on Tensors ``a`` and ``b`` (``torch.result_type``).

    Tensors with dimensions outrank 0-d tensors: a 0-d operand changes the result
    only when it is of a higher category (``float32 (3,)`` with ``float64 ()`` is
    float32, ``int64 (3,)`` with ``float64 ()`` is float64).
    """
    da, db = a.array.dtype, b.array.dtype
    if da == db:
        return da
    a_dims, b_dims = a.array.ndim > 0, b.array.ndim > 0
    if a_dims == b_dims:
        return _promote_dtypes(da, db)
    higher, lower = (da, db) if a_dims else (db, da)
    ch, cl = _CATEGORY.get(higher.kind, 2), _CATEGORY.get(lower.kind, 2)
    return _promote_dtypes(higher, lower) if cl > ch else higher


def promote_tensors(a, b):
    """``a`` and ``b`` cast (differentiably) to their torch result dtype, where they differ."""
    want = result_dtype(a, b)
    if a.array.dtype != want:
        a = to(a, dtype=want)
    if b.array.dtype != want:
        b = to(b, dtype=want)
    return a, b


def binary_operands(a, b):
    """Both operands of a binary op, the non-Tensor one converted to match the other.

    Two Tensors of different dtypes follow torch's promotion (``result_dtype``),
    not numpy's: float32 + int64 stays float32.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.array.dtype is b.array.dtype or a.array.dtype == b.array.dtype:
                return a, b
            return promote_tensors(a, b)
        a = promote_for_scalar(a, b)
        return a, _arr(b, a)
    if isinstance(b, Tensor):
        b = promote_for_scalar(b, a)
        return _arr(a, b), b
    raise TypeError(
        f"expected at least one Tensor operand, got {type(a).__name__} and {type(b).__name__}"
    )


def as_array_like(value, like):
    """Turn a Python scalar / array into an array with ``like``'s dtype and module.

    Python scalars take the tensor's dtype, so ``float32 * 2.0`` stays float32.
    """
    xp = get_array_module(like)
    if isinstance(value, (int, float, bool, np.number)):
        dtype = like.dtype
        if dtype.kind in "iub" and isinstance(value, (float, np.floating)):
            dtype = np.float32  # int tensor * 2.5 is float32, as in torch
        elif dtype.kind == "b" and not isinstance(value, (bool, np.bool_)):
            dtype = np.int64
        return xp.asarray(value, dtype=dtype)
    return value
