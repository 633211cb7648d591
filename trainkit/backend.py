"""numpy/cupy dispatch: devices, array modules and the reason cuda (or numba) is unavailable.

Every array trainkit touches is a numpy array (device ``cpu``) or a cupy array
(device ``cuda:N``). Code never imports cupy directly: it asks
``get_array_module(x)`` for the module that owns ``x``. cupy is imported lazily,
once, and when that fails the reason is kept so that asking for ``cuda`` later
can say *why* it is unavailable instead of raising an ImportError. numba (the
fused CPU kernels of the optimizers and of conv/pool gradients) is probed the
same way, and ``TRAINKIT_DISABLE_NUMBA=1`` is the one switch that turns it off
everywhere (see :func:`numba_available`).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Device",
    "DeviceMismatchError",
    "CudaUnavailableError",
    "cuda_available",
    "cuda_unavailable_reason",
    "numba_available",
    "numba_unavailable_reason",
    "device_of",
    "get_array_module",
    "to_device",
    "check_same_device",
    "scatter_add",
]


class DeviceMismatchError(RuntimeError):
    """Raised when one operation receives arrays that live on two devices."""


class CudaUnavailableError(RuntimeError):
    """Raised when ``cuda`` is requested but cupy or a GPU cannot be used."""


@functools.lru_cache(maxsize=None)
def _probe_cupy():
    """Import cupy and touch the driver once; return (module or None, reason)."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported on demand
    except ImportError as exc:
        return None, (
            f"cupy is not installed ({exc}); install trainkit[cuda12] or trainkit[cuda13]"
        )
    except Exception as exc:  # a broken cupy install raises all sorts of things
        return None, f"cupy failed to import: {type(exc).__name__}: {exc}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"cupy is installed but the CUDA driver is unusable: {exc}"
    if count < 1:
        return None, "cupy is installed but no GPU is visible (getDeviceCount() == 0)"
    return cupy, None


def cuda_available() -> bool:
    """True when cupy imports and at least one GPU is visible."""
    return _probe_cupy()[0] is not None


def cuda_unavailable_reason() -> str | None:
    """Why ``cuda_available()`` is False, or None when cuda is usable."""
    return _probe_cupy()[1]


NUMBA_SWITCH = "TRAINKIT_DISABLE_NUMBA"


def _quiet_openmp_workers() -> None:
    """Let numba's OpenMP workers sleep between kernels unless the user chose a wait policy.

    numba's parallel kernels run on an OpenMP pool whose default is to spin
    for a while after each kernel; in between come numpy's BLAS calls, whose
    OpenBLAS threads want the same cores, and on a 2-core machine the two pools
    take turns stealing each other's core (the CIFAR CNN step measured 20-30%
    less CPU time with ``OMP_WAIT_POLICY=PASSIVE``). Read by libgomp when it
    loads, i.e. at numba's first parallel kernel; an ``OMP_WAIT_POLICY`` already
    in the environment wins, and so does an OpenMP runtime that another library
    (torch bundles its own) loaded earlier.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@functools.lru_cache(maxsize=None)
def _probe_numba():
    """Import numba once unless it is switched off; return (module or None, reason)."""
    raw = os.environ.get(NUMBA_SWITCH, "").strip().lower()
    if raw in ("1", "true", "yes"):
        return None, f"numba is switched off by {NUMBA_SWITCH}={raw}"
    _quiet_openmp_workers()
    try:
        import numba  # noqa: PLC0415 - optional accelerator, imported on demand (about 0.5 s)
    except Exception as exc:  # a broken numba/llvmlite install raises all sorts of things
        return None, f"numba failed to import: {type(exc).__name__}: {exc}"
    return numba, None


def numba_available() -> bool:
    """True when the fused numba kernels can be used (CPU optimizer steps, conv/pool gradients).

    ``TRAINKIT_DISABLE_NUMBA=1`` (or ``true``/``yes``) is the one switch that
    turns numba off for all of trainkit: read once, on the first call, which
    imports numba; every numba path then runs its plain numpy equivalent
    (same numbers). Use it to debug, or where numba's start-up cost or its
    threads are unwelcome. Without numba installed the same fallback applies.
    """
    return _probe_numba()[0] is not None


def numba_unavailable_reason() -> str | None:
    """Why ``numba_available()`` is False (switched off, or the import error), or None."""
    return _probe_numba()[1]


def _cupy():
    cupy, reason = _probe_cupy()
    if cupy is None:
        raise CudaUnavailableError(f"device 'cuda' requested but unavailable: {reason}")
    return cupy


@dataclass(frozen=True)
class Device:
    """A place arrays live: ``Device("cpu")``, ``Device("cuda")``, ``Device("cuda:1")``.

    ``Device("auto")`` resolves to ``cuda:0`` when cuda is available and ``cpu``
    otherwise, which is the tutorials' ``"cuda:0" if available else "cpu"``.
    """

    type: str
    index: int | None = None

    def __init__(self, spec: "str | Device" = "cpu", index: int | None = None):
        if isinstance(spec, Device):
            object.__setattr__(self, "type", spec.type)
            object.__setattr__(self, "index", spec.index)
            return
        if not isinstance(spec, str):
            raise TypeError(
                f"device must be a string like 'cpu', 'cuda', 'cuda:0' or 'auto', got {spec!r}"
            )
        text = spec.strip().lower()
        if text == "auto":
            text = "cuda:0" if cuda_available() else "cpu"
        kind, _, idx = text.partition(":")
        if kind not in ("cpu", "cuda", "gpu"):
            raise ValueError(
                f"unknown device {spec!r}; expected 'cpu', 'cuda', 'cuda:N' or 'auto'"
            )
        kind = "cuda" if kind == "gpu" else kind
        if idx:
            if kind == "cpu" or not idx.isdigit():
                raise ValueError(f"invalid device index in {spec!r}; expected 'cuda:N' with N >= 0")
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", index if kind == "cuda" else None)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (ValueError, TypeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    @property
    def xp(self):
        """The array module (numpy or cupy) for this device."""
        return np if self.type == "cpu" else _cupy()

    def use(self):
        """Context manager making this device current (a no-op for cpu)."""
        if self.type == "cpu":
            import contextlib

            return contextlib.nullcontext()
        return _cupy().cuda.Device(self.index)


_CPU = Device("cpu")


def _is_cupy_array(x) -> bool:
    return type(x).__module__.startswith("cupy")


def get_array_module(*arrays):
    """Return cupy if any argument is a cupy array, else numpy (like ``cupy.get_array_module``)."""
    for x in arrays:
        if type(x) is np.ndarray:  # the common case, checked first
            continue
        data = getattr(x, "array", x)
        if _is_cupy_array(data):
            return _cupy()
    return np


def device_of(array) -> Device:
    """The Device an array (or Tensor) lives on."""
    data = getattr(array, "array", array)
    if _is_cupy_array(data):
        return Device("cuda", data.device.id)
    return _CPU


def to_device(array, device: "str | Device"):
    """Return ``array`` on ``device``; the same object when it is already there."""
    device = Device(device)
    current = device_of(array)
    if current == device:
        return array
    if device.type == "cpu":
        return array.get()
    cupy = _cupy()
    with cupy.cuda.Device(device.index):
        return cupy.asarray(array)


def check_same_device(*arrays, names: tuple[str, ...] | None = None, op: str = "operation"):
    """Raise DeviceMismatchError when the arrays do not all share one device.

    ``names`` (optional, same length as ``arrays``) are used in the message, so
    that the user learns *which* parameter sits on the wrong device.
    """
    devices = [device_of(a) for a in arrays]
    first = devices[0]
    for i, dev in enumerate(devices[1:], start=1):
        if dev != first:
            if names:
                where = f"{names[0]!s} is on {first} but {names[i]!s} is on {dev}"
            else:
                where = f"argument 0 is on {first} but argument {i} is on {dev}"
            raise DeviceMismatchError(
                f"{op}: expected all arrays on one device, {where}; "
                "move them with .to(device) first"
            )
    return first


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` where repeated indices all add up (in place).

    numpy's ``np.add.at`` (and cupy's, in recent versions) is unbuffered, so
    ``index = [0, 0]`` adds twice. Older cupy only has ``cupyx.scatter_add``.
    Indexing backward (``x[idx]`` with repeated ``idx``) relies on this.
    """
    xp = get_array_module(target)
    at = getattr(xp.add, "at", None)
    if at is not None:
        at(target, index, values)
        return
    import cupyx  # noqa: PLC0415 - only reached on cupy without ufunc.at

    cupyx.scatter_add(target, index, values)
