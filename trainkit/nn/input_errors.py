"""Name the layer when an op gets something that is not a Tensor.

``InputTypeError`` (raised by ``Function.apply``) knows the op and the argument
(``linear: argument 0 must be a Tensor ..., got Device``). Each
``Module.__call__`` it passes through calls :func:`name_layer`: the innermost
module records itself, and every enclosing one rewrites the message with the
dotted path from itself, so the user's ``model(x)`` reports which layer got
what and what it expects:

    layer 'linear' (Linear(in_features=1, out_features=1, bias=True)) got Device:
    device(type='cpu') as its input; it expects a Tensor of shape (*, 1) ...
"""
from __future__ import annotations

from ..autograd.errors import InputTypeError

__all__ = ["name_layer"]


def _expected(layer) -> str:
    """What ``layer`` takes, from its size attributes where it has them."""
    if hasattr(layer, "in_features"):
        return f"a Tensor of shape (*, {layer.in_features})"
    if hasattr(layer, "in_channels"):
        return f"a Tensor with {layer.in_channels} channels (N, {layer.in_channels}, ...)"
    return "a Tensor"


def name_layer(module, exc: InputTypeError) -> None:
    """Rewrite ``exc`` (passing through ``module.__call__``) to name the layer at fault."""
    if exc.module is None:
        exc.module = module
        exc.op_message = str(exc)
    owner = exc.module
    path = next((n for n, m in module.named_modules() if m is owner), None)
    if path is None:
        return
    head = repr(owner).splitlines()[0]
    where = f"layer '{path}' ({head})" if path else f"layer {head}"
    text = repr(exc.value)
    got = f"{type(exc.value).__name__}: {text[:80] + '...' if len(text) > 80 else text}"
    arg = "as its input" if exc.position == 0 else f"as argument {exc.position} of {exc.op}"
    exc.args = (
        f"{where} got {got} {arg}; it expects {_expected(owner)}: pass the data itself "
        f"(e.g. x.to(device), not the device) [{exc.op_message}]",
    )
