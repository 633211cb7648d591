"""Data: datasets, the seeded resumable ``DataLoader``, built-in datasets and file loaders.

* ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` (torch's names).
* ``DataLoader``: order fixed by ``(seed, epoch)``; ``state_dict()``/``load_state_dict()``
  record and restore the position for bit-identical resume.
* ``load_dataset(name, **kwargs) -> DataSplits`` for the built-ins: ``spirals``,
  ``regression``, ``shapes`` (generated), ``mnist``, ``fashion_mnist``, ``cifar10``,
  ``npz`` (files), ``digits`` (scikit-learn).
"""
from __future__ import annotations

from .catalog import BUILTIN_DATASETS, load_dataset
from .cifar import cifar10, parse_cifar10_batch
from .collate import default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .digits import digits
from .errors import DataFileNotFoundError, DataFormatError, MissingDependencyError
from .idx import fashion_mnist, load_idx, mnist, parse_idx
from .loader import DataLoader
from .npz import npz
from .splits import DataSplits
from .synthetic import regression, shapes, spirals

__all__ = [
    "BUILTIN_DATASETS",
    "DataFileNotFoundError",
    "DataFormatError",
    "DataLoader",
    "DataSplits",
    "Dataset",
    "MissingDependencyError",
    "Subset",
    "TensorDataset",
    "cifar10",
    "default_collate",
    "digits",
    "fashion_mnist",
    "load_dataset",
    "load_idx",
    "mnist",
    "npz",
    "parse_cifar10_batch",
    "parse_idx",
    "random_split",
    "regression",
    "shapes",
    "spirals",
]
