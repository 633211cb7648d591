"""Saving and loading a Module's parameters and buffers as a flat ``{dotted name: array}`` dict.

Names are torch's dotted paths (``features.0.weight``) so state dicts move
between trainkit and PyTorch as plain arrays. Loading validates every key
and shape first and changes nothing on a mismatch, so a wrong checkpoint
never leaves a model half loaded. ``Module.state_dict`` and
``Module.load_state_dict`` are these functions.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import device_of, to_device

__all__ = ["StateDictMismatchError", "state_tensors", "state_dict", "load_state_dict"]


class StateDictMismatchError(RuntimeError):
    """``load_state_dict`` found missing, unexpected or wrongly shaped keys."""

    def __init__(self, missing, unexpected, wrong_shape):
        self.missing_keys = list(missing)
        self.unexpected_keys = list(unexpected)
        self.wrong_shape = dict(wrong_shape)
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        if wrong_shape:
            parts.append(
                "wrong shapes: "
                + ", ".join(f"{k} (checkpoint {a}, model {b})" for k, (a, b) in wrong_shape.items())
            )
        super().__init__(
            "Error(s) in loading state_dict; nothing was changed. " + "; ".join(parts)
        )


class _IncompatibleKeys(tuple):
    """``load_state_dict(strict=False)``'s result: ``(missing_keys, unexpected_keys)``, also as attributes."""

    def __new__(cls, missing, unexpected):
        obj = super().__new__(cls, (list(missing), list(unexpected)))
        obj.missing_keys = list(missing)
        obj.unexpected_keys = list(unexpected)
        return obj

    def __repr__(self):
        return f"<IncompatibleKeys missing_keys={self.missing_keys} unexpected_keys={self.unexpected_keys}>"


def state_tensors(module) -> dict:
    """Dotted name -> Parameter or buffer Tensor (persistent buffers only, registration order)."""
    out = {}
    for mod_name, sub in module.named_modules():
        for name, p in sub._parameters.items():
            if p is not None:
                out[f"{mod_name}.{name}" if mod_name else name] = p
        for name, b in sub._buffers.items():
            if b is not None and name not in sub._non_persistent:
                out[f"{mod_name}.{name}" if mod_name else name] = b
    return out


def state_dict(module) -> dict:
    """Dotted name -> array (parameters and persistent buffers, registration order)."""
    return {k: t.array for k, t in state_tensors(module).items()}


def load_state_dict(module, state_dict: dict, strict: bool = True) -> _IncompatibleKeys:
    """``module.load_state_dict(state_dict, strict)``: check every key and shape, then copy in place.

    Nothing is changed unless the check passes; ``strict`` is documented on
    ``Module.load_state_dict``.
    """
    own = state_tensors(module)
    incoming = {k: (v.array if isinstance(v, Tensor) else v) for k, v in state_dict.items()}
    missing = [k for k in own if k not in incoming]
    unexpected = [k for k in incoming if k not in own]
    wrong = {
        k: (tuple(np.shape(v)), tuple(own[k].shape))
        for k, v in incoming.items()
        if k in own and tuple(np.shape(v)) != tuple(own[k].shape)
    }
    if wrong or (strict and (missing or unexpected)):
        raise StateDictMismatchError(missing, unexpected, wrong)
    for k, t in own.items():
        if k not in incoming:
            continue
        src = incoming[k]
        dev = device_of(t.array)
        src = to_device(src if hasattr(src, "astype") else np.asarray(src), dev)
        t.array[...] = src.astype(t.array.dtype, copy=False)
    return _IncompatibleKeys(missing, unexpected)
