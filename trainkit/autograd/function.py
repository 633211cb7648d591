"""The autograd engine: ``Function`` nodes, the grad mode switch and backward.

A ``Function`` computes on raw arrays (numpy or cupy) in ``forward`` and maps
the output gradient to one gradient per input in ``backward``. ``apply`` wraps
the result in a Tensor and, when gradients are needed, records the node in the
graph. Backward visits nodes in decreasing *generation* (a node's generation is
one more than the newest node among its inputs) using a heap, so every node runs
after all of its consumers and no recursion is involved: a chain of 10,000 ops
is as safe as a chain of 10.
"""
from __future__ import annotations

import functools
import heapq
import threading

import numpy as np

from ..backend import DeviceMismatchError, device_of, get_array_module

class _GradState(threading.local):
    enabled = True  # the default in every thread


_state = _GradState()
_AxisError = np.exceptions.AxisError
_ndarray = np.ndarray
_PLAIN = {type(None), int, float, bool}  # positional non-arrays that live on no device


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (per thread, as in PyTorch)."""
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    """Switch graph recording on or off for the current thread."""
    _state.enabled = bool(mode)


class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager and a decorator."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None and callable(func):  # bare ``@no_grad`` decorator
            return self(func)
        return self

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc_info):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, func):
        mode_cls = type(self)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode_cls():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - torch's name
    """Record no graph inside the block: ``with trainkit.no_grad(): ...``.

    Use it for evaluation and for hand-written parameter updates, so that
    ``w -= lr * w.grad`` changes ``w`` in place instead of recording an op.
    Works as ``@no_grad()`` and ``@no_grad`` on functions too.
    """

    mode = False


class enable_grad(_GradMode):  # noqa: N801 - torch's name
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


class GraphFreedError(RuntimeError):
    """Raised by a second backward through a graph whose buffers were freed."""


class ShapeError(ValueError):
    """Raised when an op receives arrays whose shapes do not fit together.

    The message names the op and every input shape, e.g.
    ``matmul: incompatible shapes (2, 3) and (4, 5)``, instead of numpy's or
    cupy's internal wording.
    """


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


def _check_devices(cls, raw) -> None:
    """Slow path of ``apply``: some input is not a numpy array (cupy, or odd)."""
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
                data = x.data
                if x.requires_grad:
                    requires = True
            else:
                data = x
            if type(data) is not _ndarray and type(data) not in _PLAIN:
                check = True  # cupy (or odd) input: verify one device before computing
            raw.append(data)
        if check:
            _check_devices(cls, raw)
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


_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved values after "
    "they were freed): the first backward freed the graph's saved arrays to save memory. "
    "Pass retain_graph=True to the first backward() if you need to call it twice, or "
    "recompute the forward pass."
)


def run_backward(root, grad=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root`` (a Tensor), accumulating into leaf ``.grad``.

    Nodes are visited in decreasing generation through a heap: every node runs
    once, after all of its consumers have delivered their gradients, without
    recursion. Gradients of intermediate tensors live only in a local dict.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "call backward on a tensor computed from tensors with requires_grad=True "
            "(and outside no_grad())"
        )
    xp = get_array_module(root.data)
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                f"{tuple(root.shape)}: pass backward(gradient) with a gradient of that shape"
            )
        grad = xp.ones_like(root.data)
    else:
        grad = getattr(grad, "data", grad)
        grad = xp.asarray(grad, dtype=root.data.dtype)
        if grad.shape != root.data.shape:
            raise ShapeError(
                f"backward(gradient): gradient has shape {tuple(grad.shape)} but the tensor has "
                f"shape {tuple(root.shape)}"
            )
    ctx = root._ctx
    if ctx is None:
        root._accumulate_grad(grad)
        return

    # Gradients of non-leaf tensors, keyed by the Function that produced them
    # (one output per Function), so no tensor -> function map is needed.
    grads = {id(ctx): grad}
    heap = [(-ctx.generation, 0, ctx)]
    counter = 1  # tie-breaker so the heap never compares Functions
    heappush, heappop = heapq.heappush, heapq.heappop
    while heap:
        fn = heappop(heap)[2]
        g_out = grads.pop(id(fn))
        if fn._freed:
            raise GraphFreedError(_FREED_MESSAGE)
        in_grads = fn.backward(g_out)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if not retain_graph:
            fn._freed = True
            fn.__dict__.clear()
        for inp, inp_ctx, needs, g in zip(fn.inputs, fn.parents, fn.needs_input_grad, in_grads):
            if not needs or g is None:
                continue
            if g.dtype != inp.data.dtype:
                g = g.astype(inp.data.dtype, copy=False)
            if inp_ctx is None:
                inp._accumulate_grad(g)
                continue
            key = id(inp_ctx)
            previous = grads.get(key)
            if previous is not None:
                grads[key] = previous + g
            else:
                grads[key] = g
                heappush(heap, (-inp_ctx.generation, counter, inp_ctx))
                counter += 1


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


from .tensor import Tensor  # noqa: E402 - tensor.py imports run_backward from here
