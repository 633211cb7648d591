"""Neural-network building blocks with PyTorch's names, shapes and defaults."""
from .module import Module, StateDictMismatchError
from .parameter import Parameter

__all__ = ["Module", "Parameter", "StateDictMismatchError"]
