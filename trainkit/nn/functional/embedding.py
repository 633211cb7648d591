"""Embedding lookup with a dense or row-sparse weight gradient.

Row-sparse gradients (``sparse=True``): ``weight.grad`` stays a dense Tensor of
the weight's shape (so clipping, logging and checkpoints need no special case)
and the Parameter gains ``grad_indices``: a sorted int64 array of the unique
rows present in the gradient (rows looked up in this backward, minus
``padding_idx``), including rows whose gradient happens to be zero.
``SparseAdam`` updates exactly those rows, as torch's does with a sparse grad.
The attribute is reset when a backward starts from ``grad is None`` and is
merged (union) when gradients accumulate.
"""
from __future__ import annotations

import functools

import numpy as np

from ...autograd.function import Function
from ...backend import get_array_module, numba_available
from . import _cpu_kernels


@functools.lru_cache(maxsize=None)
def _row_scatter_kernel():
    """numba: ``target[index[i]] += values[i]`` row by row, in order (the numbers of ``np.add.at``).

    ``np.add.at`` handles one element at a time through a generic indexing
    loop (about 20 ms for 2048 rows of 256); this adds whole contiguous rows
    (about 0.3 ms). Serial: lookups repeat rows, and a batch's worth of rows is
    little work.
    """
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    @numba.njit(cache=True, nogil=True)
    def scatter_rows(target, index, values):
        for i in range(index.shape[0]):
            dst = target[index[i]]
            src = values[i]
            for j in range(dst.shape[0]):
                dst[j] += src[j]

    return scatter_rows


def _scatter_add(xp, target, index, values):
    """Add the rows of ``values`` (n, dim) into ``target`` (rows, dim) at ``index`` (n,)."""
    if xp is np and index.size and _cpu_kernels.usable(target, values):
        kernel = _row_scatter_kernel()
        if kernel is not None:
            kernel(target, np.ascontiguousarray(index, dtype=np.int64), np.ascontiguousarray(values))
            return
    if hasattr(xp, "add") and hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:  # pragma: no cover - very old cupy
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, index, values)


class EmbeddingFunction(Function):
    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False, sparse=False):
        xp = get_array_module(weight)
        n = weight.shape[0]
        if indices.dtype.kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
        if indices.size:
            lo, hi = int(indices.min()), int(indices.max())
            if lo < 0 or hi >= n:
                bad = lo if lo < 0 else hi
                raise IndexError(f"embedding: index {bad} is out of range for num_embeddings={n}")
        self.indices, self.shape, self.padding_idx = indices, weight.shape, padding_idx
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        return xp.take(weight, indices, axis=0)

    def backward(self, g):
        xp = get_array_module(g)
        flat = self.indices.reshape(-1)
        rows = g.reshape(-1, self.shape[1])
        if self.padding_idx is not None:
            keep = flat != self.padding_idx
            flat, rows = flat[keep], rows[keep]
        if self.scale_grad_by_freq and flat.size:
            counts = xp.bincount(flat, minlength=self.shape[0])
            rows = rows / counts[flat].astype(rows.dtype)[:, None]
        grad = xp.zeros(self.shape, dtype=g.dtype)
        _scatter_add(xp, grad, flat, rows)
        if self.sparse:
            weight = self.inputs[0]
            present = xp.unique(flat).astype(xp.int64)
            previous = getattr(weight, "grad_indices", None)
            if weight.grad_array is not None and previous is not None:
                present = xp.unique(xp.concatenate([previous, present]))
            weight.grad_indices = present
        return grad, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input`` (any shape): output ``input.shape + (dim,)``."""
    from ...autograd.grad_mode import no_grad
    from ...autograd.tensor import Tensor

    idx = input.array if isinstance(input, Tensor) else input
    xp = get_array_module(weight.array)
    idx = xp.asarray(idx)
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings={n}")
        padding_idx %= n
    if max_norm is not None and idx.size:
        with no_grad():
            rows = xp.unique(idx.reshape(-1))
            sel = weight.array[rows]
            norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
            scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(sel.dtype)
            weight.array[rows] = sel * scale[:, None]
    return EmbeddingFunction.apply(weight, idx, padding_idx=padding_idx,
                                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
