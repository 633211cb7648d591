"""Per-parameter scalars kept as torch keeps them: 0-d tensors of its *scalar dtype*.

torch stores ASGD's ``eta``/``mu`` and NAdam's ``mu_product`` as 0-d tensors of
``torch.optim.optimizer._get_scalar_dtype()``: float64 when torch's default
dtype is float64, else float32 (the default), whatever the parameters' dtype.
Values written into them are rounded to that dtype, and an in-place product
(``mu_product *= mu``) is computed in it. trainkit's default dtype is float32
(``trainkit.autograd.DEFAULT_DTYPE``), so these scalars carry float32 round-off
here too, and float64 runs match torch's to float64 round-off.

``load_state_dict`` is where trainkit deliberately differs: torch casts every
floating state tensor but ``step`` to the *parameter's* dtype there, so after
a reload NAdam's ``mu_product *= mu`` runs in float64 for float64 parameters
and torch's own trajectory changes by ~1e-10 relative. trainkit keeps the
scalar dtype across ``state_dict()`` round trips and checkpoints, so a resumed
run stays bit-identical to an uninterrupted one.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import DEFAULT_DTYPE

__all__ = ["scalar_dtype", "stored", "stored_product"]


def scalar_dtype() -> np.dtype:
    """float64 when the default dtype is float64, else float32 (torch's ``_get_scalar_dtype``)."""
    return np.dtype(np.float64) if np.dtype(DEFAULT_DTYPE) == np.float64 else np.dtype(np.float32)


def stored(value) -> float:
    """``value`` written into a scalar-dtype tensor and read back (``tensor.copy_(v); tensor.item()``)."""
    return float(scalar_dtype().type(value))


def stored_product(state, factor) -> float:
    """``state *= factor`` on torch's 0-d scalar-dtype tensor: both rounded to the dtype, multiplied in it."""
    cast = scalar_dtype().type
    return float(cast(state) * cast(factor))
