"""Device, dtype and copy ops: ``to``, ``float``/``double``/``type_as``, ``cpu``/``cuda``, ``clone``.

These are differentiable (the gradient goes back to the source device and
dtype), so they are ``Function`` classes like any other op; ``methods``
attaches the functions below to ``Tensor`` as ``x.to(...)``, ``x.float()`` and
so on. They live here rather than in ``tensor.py`` because a ``Function`` needs
``Tensor``, and ``Tensor`` must not need ``Function``.
"""
from __future__ import annotations

import numpy as np

from ..backend import Device, device_of, to_device
from .function import Function
from .tensor import Tensor

__all__ = ["Cast", "Clone", "ToDevice", "clone"]


class ToDevice(Function):
    name = "to"

    def forward(self, a, device):
        self.source = device_of(a)
        return to_device(a, device)

    def backward(self, g):
        return to_device(g, self.source)


class Cast(Function):
    name = "to"

    def forward(self, a, dtype):
        self.source = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.source)


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def clone(input):  # noqa: A002
    """A copy of ``input`` that stays in the graph (gradients flow back)."""
    return Clone.apply(input)


def to(input, device=None, dtype=None) -> Tensor:  # noqa: A002 - Tensor.to(self, ...)
    """Copy to ``device`` and/or cast to ``dtype``; returns ``input`` when nothing changes."""
    if isinstance(device, Tensor):  # x.to(other): other's device and dtype
        device, dtype = device.device, device.dtype
    out = input
    if device is not None and not looks_like_dtype(device):
        if Device(device) != input.device:
            out = ToDevice.apply(out, device=Device(device))
    elif device is not None:
        dtype = device
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = Cast.apply(out, dtype=np.dtype(dtype))
    return out


def cpu(input) -> Tensor:  # noqa: A002
    return to(input, "cpu")


def cuda(input, index: int = 0) -> Tensor:  # noqa: A002
    return to(input, f"cuda:{index}")


def float(input) -> Tensor:  # noqa: A001,A002 - Tensor.float
    return to(input, dtype=np.float32)


def double(input) -> Tensor:  # noqa: A002
    return to(input, dtype=np.float64)


def type_as(input, other: Tensor) -> Tensor:  # noqa: A002
    return to(input, dtype=other.dtype)


def looks_like_dtype(value) -> bool:
    """Whether ``x.to(value)`` names a dtype (``"float64"``, ``np.int64``) rather than a device."""
    if isinstance(value, (Device,)):
        return False
    if isinstance(value, str):
        return value not in ("cpu", "cuda", "gpu", "auto") and not value.startswith(("cuda:", "gpu:"))
    try:
        np.dtype(value)
        return True
    except TypeError:
        return False
