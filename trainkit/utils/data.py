"""``torch.utils.data``'s names, from :mod:`trainkit.data` (where they live).

``from trainkit.utils.data import DataLoader, TensorDataset`` is
``from torch.utils.data import DataLoader, TensorDataset`` with the import renamed.
trainkit's ``DataLoader`` yields Tensors, shuffles in an order fixed by its
``seed`` and the epoch, and runs in the calling process (``num_workers`` is accepted
for compatibility; see :class:`trainkit.data.DataLoader`).
"""
from ..data.collate import default_collate
from ..data.dataset import Dataset, Subset, TensorDataset, random_split
from ..data.loader import DataLoader

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]
