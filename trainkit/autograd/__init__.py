"""Reverse-mode automatic differentiation over numpy and cupy arrays."""
from . import ops
from .function import Function, GraphFreedError, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "Function",
    "GraphFreedError",
    "Tensor",
    "DEFAULT_DTYPE",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "set_grad_enabled",
]
