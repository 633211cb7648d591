"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``randn``, ``rand``, ``arange``, ``from_numpy``."""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..backend import Device, get_array_module, to_device
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
        data = data.array
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


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialised values (here: zeros, so results never depend on garbage)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (float -> float32, int -> int64, as torch)."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, int):
            dtype = np.int64
        else:
            dtype = DEFAULT_DTYPE
    array = np.full(_shape((size,)), fill_value, dtype=dtype)
    return _finish(array, None, device, requires_grad)


def _like(other, dtype, device):
    data = other.array if isinstance(other, Tensor) else other
    xp = get_array_module(data)
    return xp, data.shape, np.dtype(dtype) if dtype is not None else data.dtype, device


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    """Zeros with ``input``'s shape, dtype and device (unless overridden)."""
    xp, shape, dtype, device = _like(input, dtype, device)
    return _finish(xp.zeros(shape, dtype=dtype), None, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    """Ones with ``input``'s shape, dtype and device (unless overridden)."""
    xp, shape, dtype, device = _like(input, dtype, device)
    return _finish(xp.ones(shape, dtype=dtype), None, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    xp, shape, dtype, device = _like(input, dtype, device)
    return _finish(xp.full(shape, fill_value, dtype=dtype), None, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    """Standard normal samples with ``input``'s shape, from trainkit's seeded generator."""
    xp, shape, dtype, device = _like(input, dtype, device)
    array = _random.generator_for(xp).standard_normal(shape).astype(dtype)
    return _finish(array, None, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    """Uniform [0, 1) samples with ``input``'s shape, from trainkit's seeded generator."""
    xp, shape, dtype, device = _like(input, dtype, device)
    array = _random.generator_for(xp).random(shape).astype(dtype)
    return _finish(array, None, device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None) -> Tensor:
    """Integers uniform in ``[low, high)`` (``randint(high, size)`` as torch allows)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() needs size=, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    array = _random.generator().integers(low, high, size=_shape((size,)), dtype=np.int64)
    return _finish(array, dtype, device, False)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Identity matrix of shape (n, m or n)."""
    return _finish(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _finish(np.linspace(start, end, steps, dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)
