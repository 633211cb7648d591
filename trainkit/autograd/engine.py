"""The backward engine: ``run_backward`` walks the graph that ops recorded.

Backward visits nodes (``Function`` instances) in decreasing *generation* (a
node's generation is one more than the newest node among its inputs) using a
heap, so every node runs after all of its consumers and no recursion is
involved: a chain of 10,000 ops is as safe as a chain of 10.

The engine only reads what ``Function.apply`` stored on each node (``inputs``,
``parents``, ``generation``, ``needs_input_grad``) and calls
``Tensor._accumulate_grad`` on leaves, so it imports neither ``Tensor`` nor
``Function``; ``Tensor.backward`` calls down into it.
"""
from __future__ import annotations

import heapq

from ..backend import get_array_module
from .errors import GraphFreedError, ShapeError

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved values after "
    "they were freed): the first backward freed the graph's saved arrays to save memory. "
    "Pass retain_graph=True to the first backward() if you need to call it twice, or "
    "recompute the forward pass."
)


def run_backward(root, grad=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root`` (a Tensor), accumulating into each leaf's gradient (``.grad``).

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
    xp = get_array_module(root.array)
    if grad is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                f"{tuple(root.shape)}: pass backward(gradient) with a gradient of that shape"
            )
        grad = xp.ones_like(root.array)
    else:
        grad = getattr(grad, "array", grad)
        grad = xp.asarray(grad, dtype=root.array.dtype)
        if grad.shape != root.array.shape:
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
            if g.dtype != inp.array.dtype:
                g = g.astype(inp.array.dtype, copy=False)
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
