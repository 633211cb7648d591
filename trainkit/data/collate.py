"""``default_collate``: stack a list of samples into one batch of Tensors.

Used by ``DataLoader`` for datasets without ``get_batch`` (any map-style
dataset written by hand). Follows ``torch.utils.data.default_collate``'s
structure: tuples and lists of fields become tuples of batched Tensors, dicts
stay dicts, arrays/Tensors/numbers are stacked along a new first axis.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import get_array_module
from .dataset import as_batch_array

__all__ = ["default_collate"]


def _stack(values, where: str) -> Tensor:
    first = values[0]
    if isinstance(first, Tensor):
        xp = get_array_module(first.array)
        arrays = [v.array if isinstance(v, Tensor) else v for v in values]
        try:
            return Tensor._wrap(xp.stack(arrays))
        except ValueError as exc:
            shapes = sorted({tuple(getattr(a, "shape", ())) for a in arrays})
            raise ValueError(f"default_collate: cannot stack {where}: shapes differ {shapes}") from exc
    xp = get_array_module(*values)
    try:
        stacked = xp.stack([xp.asarray(v) for v in values])
    except ValueError as exc:
        shapes = sorted({tuple(np.shape(v)) for v in values})
        raise ValueError(f"default_collate: cannot stack {where}: shapes differ {shapes}") from exc
    return Tensor._wrap(as_batch_array(stacked))


def _collate(samples, where: str):
    first = samples[0]
    if isinstance(first, dict):
        return {k: _collate([s[k] for s in samples], f"{where}[{k!r}]") for k in first}
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(len(s) != width for s in samples):
            raise ValueError(
                f"default_collate: samples of {where} have different lengths "
                f"{sorted({len(s) for s in samples})}"
            )
        return tuple(_collate([s[i] for s in samples], f"{where}[{i}]") for i in range(width))
    if isinstance(first, (str, bytes)):
        return list(samples)
    return _stack(samples, where)


def default_collate(samples: list):
    """Stack ``samples`` (a list of dataset items) into a batch.

    Floating data that did not come as Tensors becomes float32 and integer data
    int64; Tensors keep their dtype. Strings are returned as lists.

    >>> import numpy as np
    >>> x, y = default_collate([(np.ones(2), 0), (np.zeros(2), 1)])
    >>> x.shape, str(x.dtype), y.tolist()
    ((2, 2), 'float32', [0, 1])
    """
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    return _collate(list(samples), "sample")
