"""The ``M`` namespace that rules see inside numba kernels (scalar math).

Each function matches its numpy ufunc on one element, NaN handling included,
and keeps the argument dtype (float32 stays float32).
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(inline="always", error_model="numpy", fastmath=False, cache=True)


@_jit
def sqrt(x):
    return np.sqrt(x)


@_jit
def maximum(a, b):
    return np.maximum(a, b)


@_jit
def minimum(a, b):
    return np.minimum(a, b)


@_jit
def abs(x):  # noqa: A001 - mirrors numpy's name
    return np.abs(x)


@_jit
def sign(x):
    return np.sign(x)


@_jit
def where(cond, a, b):
    return a if cond else b
