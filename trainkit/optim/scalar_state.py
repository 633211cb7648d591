"""Per-parameter scalars kept as torch keeps them: 0-d tensors of its *scalar dtype*.

torch stores ASGD's ``eta``/``mu`` and NAdam's ``mu_product`` as 0-d tensors of
``torch.optim.optimizer._get_scalar_dtype()``: float64 when torch's default
dtype is float64, else float32 (the default), whatever the parameters' dtype.
Values written into them are rounded to that dtype, and an in-place product
(``mu_product *= mu``) is computed in it. trainkit's default dtype is float32
(``trainkit.autograd.DEFAULT_DTYPE``), so these scalars carry float32 round-off
here too, and float64 runs match torch's to float64 round-off.

``load_state_dict`` is the exception torch makes: it casts every floating
state tensor but ``step`` to the *parameter's* dtype. A product accumulated in
such a tensor (NAdam's ``mu_product``) is then computed in the parameter's
dtype; :class:`InScalarDtype` marks the values still held in the scalar dtype
(see :func:`loaded`). Values ASGD writes are rounded to the default dtype
either way (``torch.as_tensor(value)`` is made before it is copied in).
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import DEFAULT_DTYPE

__all__ = ["InScalarDtype", "loaded", "scalar_dtype", "stored", "stored_product"]


class InScalarDtype(float):
    """A scalar state value held, as in torch, in a 0-d tensor of the scalar dtype (not the parameter's)."""


def scalar_dtype() -> np.dtype:
    """float64 when the default dtype is float64, else float32 (torch's ``_get_scalar_dtype``)."""
    return np.dtype(np.float64) if np.dtype(DEFAULT_DTYPE) == np.float64 else np.dtype(np.float32)


def stored(value) -> float:
    """``value`` written into a scalar-dtype tensor and read back (``tensor.copy_(v); tensor.item()``)."""
    return float(scalar_dtype().type(value))


def stored_product(state, factor) -> float:
    """``state *= factor`` on torch's 0-d tensor: both rounded to its dtype, multiplied in it.

    ``state`` is an :class:`InScalarDtype` (the scalar dtype, as created) or a
    float (float64: a value ``load_state_dict`` cast to float64 parameters' dtype).
    """
    if not isinstance(state, InScalarDtype):
        return float(state) * float(factor)
    cast = scalar_dtype().type
    return InScalarDtype(cast(state) * cast(factor))


def loaded(value, param_dtype) -> float:
    """A loaded scalar state value as torch's ``load_state_dict`` leaves it: in the parameter's dtype."""
    dtype = np.dtype(param_dtype)
    if dtype == np.float64:
        return float(value)
    return InScalarDtype(dtype.type(value)) if dtype == scalar_dtype() else float(dtype.type(value))
