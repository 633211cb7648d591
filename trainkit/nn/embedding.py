"""``Embedding``: a lookup table; ``sparse=True`` gives row-sparse gradients for ``SparseAdam``.

Row-sparse gradient representation (what ``optim.SparseAdam`` consumes):
``weight.grad`` is a *dense* Tensor of the weight's shape (zeros outside the
looked-up rows, so every other tool keeps working) and ``weight.grad_indices``
is a sorted int64 array of the unique rows present in the gradient: every row
looked up since the gradient was last cleared (``grad = None``), except
``padding_idx``; a looked-up row whose gradient sums to zero is still listed.
With ``sparse=False`` no ``grad_indices`` is set.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from . import functional as F
from . import init
from ._args import size_arg
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """``weight`` (num_embeddings, embedding_dim) ~ N(0, 1); ``padding_idx`` row zero and never updated."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = size_arg(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = size_arg(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"padding_idx {padding_idx} must be within num_embeddings={self.num_embeddings}"
                )
            padding_idx %= self.num_embeddings
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dtype = np.dtype(dtype or np.float32)
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = _weight.array if isinstance(_weight, Tensor) else _weight
            if tuple(w.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(
                    f"_weight shape {tuple(w.shape)} does not match ({self.num_embeddings}, {self.embedding_dim})"
                )
            self.weight = Parameter(w, requires_grad=not _freeze)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        w = embeddings.array if isinstance(embeddings, Tensor) else embeddings
        if w.ndim != 2:
            raise ValueError(f"from_pretrained: embeddings must be 2-D, got shape {tuple(w.shape)}")
        return cls(w.shape[0], w.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=w.copy(), _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.sparse:
            s += ", sparse=True"
        return s
