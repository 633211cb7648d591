"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``randn``, ``rand``, ``arange``, ``from_numpy``."""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..backend import Device, to_device
from .tensor import DEFAULT_DTYPE, Tensor


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(int(s) for s in size)


def _finish(array, dtype, device, requires_grad):
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    if device is not None:
        array = to_device(array, Device(device))
    return Tensor(array, requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Build a Tensor from a list, scalar, numpy or cupy array (data is copied).

    Python floats become float32 (the default dtype); integers stay int64.
    """
    if isinstance(data, Tensor):
        data = data.data
    if hasattr(data, "__cuda_array_interface__"):
        array = data.copy()
    else:
        array = np.array(data)
        if dtype is None and array.dtype.kind == "f" and not isinstance(data, np.ndarray):
            array = array.astype(DEFAULT_DTYPE)
    return _finish(array, dtype, device, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a numpy array without copying (dtype kept, as torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.zeros(_shape(size), dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.ones(_shape(size), dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    array = _random.generator().standard_normal(_shape(size)).astype(dtype or DEFAULT_DTYPE)
    return _finish(array, None, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    array = _random.generator().random(_shape(size)).astype(dtype or DEFAULT_DTYPE)
    return _finish(array, None, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    array = np.arange(start, end, step)
    if dtype is None and array.dtype.kind == "f":
        dtype = DEFAULT_DTYPE
    return _finish(array, dtype, device, requires_grad)
