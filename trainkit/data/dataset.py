"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``.

A dataset is anything with ``__getitem__(index)`` and ``__len__()``, as in
PyTorch. Datasets backed by whole arrays also implement ``get_batch(indices)``,
which returns one array per field for many samples at once; ``DataLoader`` uses
it to index the arrays once per batch instead of looping over samples in Python.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from ..backend import get_array_module

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "as_batch_array"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    ``__getitem__(i)`` returns one sample, usually a tuple ``(features, target)``
    of arrays, Tensors or Python numbers. ``DataLoader`` stacks samples with
    ``default_collate`` unless the dataset also provides ``get_batch``.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def as_batch_array(value):
    """Convert one field of a dataset to the array a batch of it is cut from.

    Tensors keep their dtype (the user chose it). Anything else follows the
    loader's conventions: floating point becomes float32 (trainkit's default
    dtype), integers become int64 (the dtype class-index losses expect), bools
    stay bool.
    """
    if isinstance(value, Tensor):
        return value.array
    xp = get_array_module(value)
    array = value if hasattr(value, "dtype") and hasattr(value, "shape") else np.asarray(value)
    kind = array.dtype.kind
    if kind == "f" and array.dtype != np.float32:
        return xp.asarray(array, dtype=np.float32)
    if kind in "iu" and array.dtype != np.int64:
        return xp.asarray(array, dtype=np.int64)
    if kind not in "fiub":
        raise TypeError(
            f"dataset arrays must be numeric or bool, got dtype {array.dtype}"
        )
    return array


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    Args:
        *tensors: Tensors, numpy/cupy arrays or nested lists, all with the same
            first dimension. Tensors keep their dtype; other floating data
            becomes float32 and integer data int64 (see ``as_batch_array``).

    Raises:
        ValueError: when no array is given or the first dimensions differ (all
            sizes are named).

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), ds[1][1].item()
    (4, 1)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor or array")
        arrays = tuple(as_batch_array(t) for t in tensors)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {i} is a scalar (shape ()); every tensor needs "
                    "a first dimension indexing the samples"
                )
        sizes = [int(a.shape[0]) for a in arrays]
        if len(set(sizes)) > 1:
            listed = ", ".join(f"tensor {i}: {s}" for i, s in enumerate(sizes))
            raise ValueError(f"Size mismatch between tensors: first dimensions differ ({listed})")
        self.arrays = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The stored arrays as Tensors (torch's attribute name)."""
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor._wrap(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def get_batch(self, indices) -> tuple:
        """One array per field for the samples at ``indices`` (an int array or a slice)."""
        return tuple(_take(a, indices) for a in self.arrays)


def _take(array, indices):
    """``array[indices]`` as a new contiguous array (never a view of the dataset)."""
    if isinstance(indices, slice):
        return array[indices].copy()
    xp = get_array_module(array)
    if xp is not np:
        indices = xp.asarray(indices)
    return array[indices]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"Subset index {bad} is out of range for a dataset of length {n}")
        self.indices = idx

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getattr__(self, name):
        # Only reached for attributes Subset lacks; get_batch exists only when
        # the wrapped dataset can serve batches, so DataLoader's check stays honest.
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, indices) -> tuple:
        return self.dataset.get_batch(self.indices[indices])


def _resolve_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative and sum to the "
                f"dataset length {n}"
            )
        return [int(x) for x in lengths]
    fractions = [float(x) for x in lengths]
    if any(f < 0 or f > 1 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"random_split: fractional lengths {lengths} must lie in [0, 1] and sum to 1"
        )
    sizes = [int(math.floor(n * f)) for f in fractions]
    for i in range(n - sum(sizes)):  # distribute the remainder round-robin, as torch does
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths: Sequence[float], generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
        dataset: any map-style dataset.
        lengths: integer sizes summing to ``len(dataset)``, or fractions summing to 1
            (the remainder is spread round-robin, as ``torch.utils.data.random_split``).
        generator: an int seed or a ``numpy.random.Generator``; None uses trainkit's
            global generator (seeded by ``trainkit.manual_seed``).
    """
    n = len(dataset)
    sizes = _resolve_lengths(n, lengths)
    if generator is None:
        rng = _random.generator()
    elif isinstance(generator, np.random.Generator):
        rng = generator
    elif isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        rng = np.random.default_rng(int(generator))
    else:
        raise TypeError(
            f"random_split: generator must be None, an int seed or a numpy.random.Generator, "
            f"got {type(generator).__name__}"
        )
    perm = rng.permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size]))
        start += size
    return out
