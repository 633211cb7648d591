"""``Dropout``: active in ``train()`` mode, the identity in ``eval()`` mode."""
from __future__ import annotations

from . import functional as F
from .module import Module


class Dropout(Module):
    """Zeroes elements with probability ``p`` (trainkit's seeded generator) and rescales by 1/(1-p)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
