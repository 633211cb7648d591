"""Inverted dropout driven by trainkit's seeded generator (``trainkit.manual_seed``)."""
from __future__ import annotations

from ... import random as _random
from ...autograd.function import Function
from ...backend import get_array_module


class DropoutFunction(Function):
    def forward(self, x, p=0.5):
        xp = get_array_module(x)
        if p >= 1.0:
            self.mask = xp.zeros_like(x)
        else:
            u = _random.generator_for(xp).random(x.shape, dtype=x.dtype)
            self.mask = (u >= x.dtype.type(p)) * x.dtype.type(1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, g):
        return g * self.mask


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` in training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return DropoutFunction.apply(input, p=float(p))
