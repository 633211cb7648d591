"""``trainkit.cuda``: the everyday ``torch.cuda`` functions, answered through cupy.

Tutorial code asks ``torch.cuda.is_available()`` and ``torch.cuda.device_count()``
before choosing ``torch.device("cuda:0" if ... else "cpu")``; with
``import trainkit as torch`` these answer from cupy (``False`` and ``0`` without
cupy or a GPU, never an ImportError). ``current_device()`` and
``synchronize()`` need a GPU, as in torch, and otherwise raise
:class:`~trainkit.backend.CudaUnavailableError` saying why;
``manual_seed``/``manual_seed_all`` seed the GPU generators (lazily, so they
work on a machine without a GPU too, as torch's do).
"""
from __future__ import annotations

from . import random as _random
from .backend import Device, _cupy, cuda_available

__all__ = [
    "current_device", "device_count", "get_device_name", "is_available", "manual_seed",
    "manual_seed_all", "synchronize",
]


def is_available() -> bool:
    """True when cupy imports and a GPU is visible (``trainkit.backend.cuda_unavailable_reason()`` says why not)."""
    return cuda_available()


def device_count() -> int:
    """The number of visible GPUs; 0 without cupy or a usable driver."""
    if not cuda_available():
        return 0
    return int(_cupy().cuda.runtime.getDeviceCount())


def current_device() -> int:
    """The index of the current GPU (raises ``CudaUnavailableError`` without one)."""
    return int(_cupy().cuda.Device().id)


def get_device_name(device=None) -> str:
    """The name of GPU ``device`` (an index, ``"cuda:1"`` or a ``trainkit.device``; default: the current one)."""
    cupy = _cupy()
    index = current_device() if device is None else _index(device)
    name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait for all work queued on GPU ``device`` (default: the current one) to finish."""
    cupy = _cupy()
    if device is None:
        cupy.cuda.Device().synchronize()
    else:
        cupy.cuda.Device(_index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the GPU random generators (used once a GPU draws random numbers); a no-op without one."""
    _random.manual_seed_cuda(seed)


manual_seed_all = manual_seed  # one seed for every GPU: each device's generator derives from it


def _index(device) -> int:
    if isinstance(device, int):
        return device
    return Device(device).index or 0
