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

import contextlib
import heapq
import threading

import numpy as np

from ..backend import DeviceMismatchError, device_of

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


@contextlib.contextmanager
def no_grad():
    """Context manager (and decorator via ``no_grad()``) that records no graph."""
    previous = is_grad_enabled()
    set_grad_enabled(False)
    try:
        yield
    finally:
        set_grad_enabled(previous)


@contextlib.contextmanager
def enable_grad():
    previous = is_grad_enabled()
    set_grad_enabled(True)
    try:
        yield
    finally:
        set_grad_enabled(previous)


class GraphFreedError(RuntimeError):
    """Raised by a second backward through a graph whose buffers were freed."""


class Function:
    """One differentiable operation.

    Subclasses implement ``forward(self, *arrays, **kwargs) -> array`` and
    ``backward(self, grad) -> tuple`` (one entry per positional input; ``None``
    for inputs that need no gradient). Anything ``backward`` needs is stored on
    ``self`` during ``forward``; it is dropped after backward unless the caller
    asked for ``retain_graph=True``.
    """

    __slots__ = ("inputs", "generation", "needs_input_grad", "_freed", "__dict__")

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        from .tensor import Tensor

        tensors = [x for x in inputs if isinstance(x, Tensor)]
        if len(tensors) > 1:
            first = device_of(tensors[0].data)
            for i, t in enumerate(tensors[1:], start=1):
                dev = device_of(t.data)
                if dev != first:
                    raise DeviceMismatchError(
                        f"{cls.__name__.lower()}: input 0 is on {first} but input {i} is on {dev}; "
                        "move tensors with .to(device) before combining them"
                    )
        raw = [x.data if isinstance(x, Tensor) else x for x in inputs]
        fn = cls()
        out = fn.forward(*raw, **kwargs)
        if isinstance(out, np.generic):  # numpy reductions return scalars, not 0-d arrays
            out = np.asarray(out)
        requires = is_grad_enabled() and any(t.requires_grad for t in tensors)
        result = Tensor._wrap(out, requires)
        if requires:
            fn.inputs = tuple(x if isinstance(x, Tensor) else None for x in inputs)
            fn.needs_input_grad = tuple(
                isinstance(x, Tensor) and x.requires_grad for x in inputs
            )
            fn.generation = 1 + max(
                (t._ctx.generation for t in tensors if t._ctx is not None), default=0
            )
            fn._freed = False
            result._ctx = fn
        return result


def _to_grad_dtype(grad, like):
    if grad.dtype != like.dtype:
        grad = grad.astype(like.dtype, copy=False)
    return grad


def run_backward(root, grad=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root`` (a Tensor), accumulating into leaf ``.grad``."""
    xp = root.xp
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                f"{tuple(root.shape)}: pass backward(grad) with a gradient of that shape"
            )
        grad = xp.ones_like(root.data)
    else:
        grad = getattr(grad, "data", grad)
        grad = xp.asarray(grad, dtype=root.data.dtype)
        if grad.shape != root.data.shape:
            raise ValueError(
                f"backward(grad): grad has shape {tuple(grad.shape)} but the tensor has shape "
                f"{tuple(root.shape)}"
            )
    if not root.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "call backward on a tensor computed from parameters with requires_grad=True"
        )
    if root._ctx is None:
        root._accumulate_grad(grad)
        return

    grads = {id(root): grad}
    heap = []
    counter = 0  # tie-breaker so the heap never compares Functions
    seen = set()

    def push(fn):
        nonlocal counter
        if id(fn) not in seen:
            seen.add(id(fn))
            heapq.heappush(heap, (-fn.generation, counter, fn))
            counter += 1

    outputs = {id(root._ctx): root}  # function id -> the tensor it produced
    push(root._ctx)
    while heap:
        _, _, fn = heapq.heappop(heap)
        out_tensor = outputs.pop(id(fn))
        g_out = grads.pop(id(out_tensor), None)
        if g_out is None:
            continue
        if fn._freed:
            raise GraphFreedError(
                "Trying to backward through the graph a second time: its saved buffers were "
                "freed by the first backward. Pass retain_graph=True to the first backward "
                "if you need to call it twice."
            )
        in_grads = fn.backward(g_out)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if not retain_graph:
            fn._freed = True
            fn.__dict__.clear()
        for inp, needs, g in zip(fn.inputs, fn.needs_input_grad, in_grads):
            if not needs or g is None:
                continue
            g = _to_grad_dtype(g, inp.data)
            if inp._ctx is None:
                inp._accumulate_grad(g)
                continue
            key = id(inp)
            if key in grads:
                grads[key] = grads[key] + g
            else:
                grads[key] = g
                outputs[id(inp._ctx)] = inp
                push(inp._ctx)


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
    from ..backend import get_array_module

    xp = get_array_module(like)
    if isinstance(value, (int, float, bool, np.number)):
        return xp.asarray(value, dtype=like.dtype)
    return value
