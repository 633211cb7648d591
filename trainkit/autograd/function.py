"""``Function``: one differentiable op, and what ``apply`` does to record it.

A ``Function`` computes on raw arrays (numpy or cupy) in ``forward`` and maps
the output gradient to one gradient per input in ``backward``. ``apply`` wraps
the result in a Tensor and, when gradients are needed (an input requires grad
and grad mode is on), records the node in the graph that ``engine.run_backward``
later walks. ``unbroadcast`` is the helper most ``backward`` methods share.
"""
from __future__ import annotations

import numpy as np

from ..backend import DeviceMismatchError, device_of
from .errors import InputTypeError, ShapeError
from .grad_mode import _state
from .tensor import Tensor

_AxisError = np.exceptions.AxisError
_ndarray = np.ndarray
_PLAIN = {type(None), int, float, bool}  # positional non-arrays that live on no device


def op_name(cls) -> str:
    """The name an op goes by in messages: ``cls.name``, else ``LinearFunction`` -> ``linear``."""
    name = getattr(cls, "name", None)
    if name:
        return name
    name = cls.__name__.lower()
    return name[: -len("function")] if name.endswith("function") and name != "function" else name


def _shape_error(cls, raw, exc) -> ShapeError:
    shapes = [tuple(r.shape) for r in raw if hasattr(r, "shape")]
    listed = " and ".join(str(s) for s in shapes) if shapes else "(no array inputs)"
    return ShapeError(f"{op_name(cls)}: incompatible shapes {listed} ({exc})")


def _check_devices(cls, raw, inputs) -> None:
    """Slow path of ``apply``: some input is not a numpy array (cupy, or odd).

    Something that is no array, Tensor or number (a ``Device``, a list) is an
    ``InputTypeError`` naming the op and the argument.
    """
    for i, r in enumerate(raw):
        if not (hasattr(r, "shape") and hasattr(r, "dtype")) and type(r) not in _PLAIN:
            raise InputTypeError(op_name(cls), i, inputs[i])
    arrays = [r for r in raw if hasattr(r, "shape") and hasattr(r, "dtype") and not isinstance(r, np.generic)]
    if len(arrays) < 2:
        return
    devices = [device_of(a) for a in arrays]
    first = devices[0]
    for i, dev in enumerate(devices[1:], start=1):
        if dev != first:
            raise DeviceMismatchError(
                f"{op_name(cls)}: expected all tensors on one device, but input 0 is on {first} and "
                f"input {i} is on {dev}; move them with .to(device) before combining them"
            )


class Function:
    """One differentiable operation.

    Subclasses implement ``forward(self, *arrays, **kwargs) -> array`` and
    ``backward(self, grad) -> tuple`` (one entry per positional input; ``None``
    for inputs that need no gradient). Anything ``backward`` needs is stored on
    ``self`` during ``forward``; it is dropped after backward unless the caller
    asked for ``retain_graph=True``. ``self.needs_input_grad`` (one bool per
    positional input) is set before ``forward`` runs, so an op can skip saving
    what no gradient will need.

    A ``ValueError`` raised by numpy/cupy inside ``forward`` is re-raised as
    ``ShapeError`` naming the op and the input shapes; a ``forward`` that checks
    its inputs itself raises ``ShapeError`` with its own message, which passes
    through unchanged. Mixing devices raises ``DeviceMismatchError`` before any
    array code runs.
    """

    __slots__ = ("inputs", "parents", "generation", "needs_input_grad", "_freed", "__dict__")

    #: Name used in error messages (default: the lower-cased class name without "Function").
    name: str | None = None

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        raw = []
        requires = False
        check = False
        for x in inputs:
            if isinstance(x, Tensor):
                data = x.array
                if x.requires_grad:
                    requires = True
            else:
                data = x
            if type(data) is not _ndarray and type(data) not in _PLAIN:
                check = True  # cupy (or odd) input: verify one device before computing
            raw.append(data)
        if check:
            _check_devices(cls, raw, inputs)
        if requires and not _state.enabled:
            requires = False
        fn = cls()
        if requires:
            fn.needs_input_grad = [isinstance(x, Tensor) and x.requires_grad for x in inputs]
        else:
            fn.needs_input_grad = [False] * len(raw)
        try:
            out = fn.forward(*raw, **kwargs)
        except ValueError as exc:
            if isinstance(exc, (ShapeError, _AxisError)):
                raise  # the op's own message already names what is wrong
            raise _shape_error(cls, raw, exc) from exc
        result = Tensor._wrap(out, requires)  # also turns numpy scalars into 0-d arrays
        if requires:
            fn.inputs = inputs
            # each input's producer as of now: an in-place ``x[i] = v`` later rebinds
            # ``x._ctx``, and this node must still send its gradient to the old producer
            parents = []
            generation = 0
            for x in inputs:
                ctx = getattr(x, "_ctx", None)
                parents.append(ctx)
                if ctx is not None and ctx.generation > generation:
                    generation = ctx.generation
            fn.parents = parents
            fn.generation = generation + 1
            fn._freed = False
            result._ctx = fn
        return result


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting."""
    if grad.shape == tuple(shape):
        return grad
    ndim_extra = grad.ndim - len(shape)
    if ndim_extra > 0:
        grad = grad.sum(axis=tuple(range(ndim_extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
