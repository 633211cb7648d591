"""Reverse-mode automatic differentiation over numpy and cupy arrays.

``Tensor`` holds an array; ops (``ops``: small ``Function`` classes) record a
graph when an input requires grad; ``Tensor.backward`` walks it iteratively.
"""
from . import ops
from .function import (
    Function,
    GraphFreedError,
    ShapeError,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "Function",
    "GraphFreedError",
    "ShapeError",
    "Tensor",
    "DEFAULT_DTYPE",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "set_grad_enabled",
]
