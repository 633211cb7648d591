"""``DataSplits``: what every dataset factory returns (train/val datasets plus metadata).

The metadata is what a config needs to size a model without looking at the
data: ``input_shape`` (per sample), ``num_classes`` (None for regression) and
``target_shape``. ``DataSplits`` unpacks like a pair, so
``train_ds, val_ds = load_dataset("spirals")`` works.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .dataset import TensorDataset

__all__ = ["DataSplits", "split_arrays", "check_fraction", "check_positive_int"]


@dataclass
class DataSplits:
    """Train and validation datasets of one named dataset, plus what models need to know.

    Attributes:
        train: the training dataset.
        val: the validation dataset, or None when there is none.
        input_shape: the shape of one input sample, e.g. ``(2,)`` or ``(3, 32, 32)``.
        num_classes: number of classes for classification; None for regression.
        target_shape: the shape of one target: ``()`` for class indices, ``(1,)`` for
            one regression output.
        name: the dataset's registered name.
        class_names: optional human-readable class names.
    """

    train: object
    val: object | None
    input_shape: tuple
    num_classes: int | None = None
    target_shape: tuple = ()
    name: str = ""
    class_names: tuple | None = field(default=None)

    @property
    def task(self) -> str:
        """``"classification"`` when ``num_classes`` is set, else ``"regression"``."""
        return "classification" if self.num_classes is not None else "regression"

    @property
    def in_features(self) -> int:
        """Features of one flattened input (``prod(input_shape)``): an MLP's first width."""
        return int(math.prod(self.input_shape))

    @property
    def out_features(self) -> int:
        """Outputs a model needs: ``num_classes``, or the size of one regression target."""
        if self.num_classes is not None:
            return int(self.num_classes)
        return int(math.prod(self.target_shape)) if self.target_shape else 1

    def metadata(self) -> dict:
        """The metadata as plain JSON-friendly values (for configs and run records)."""
        return {
            "name": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "in_features": self.in_features,
            "num_classes": self.num_classes,
            "target_shape": list(self.target_shape),
            "out_features": self.out_features,
            "train_size": len(self.train),
            "val_size": 0 if self.val is None else len(self.val),
        }

    def __iter__(self):
        yield self.train
        yield self.val

    def __len__(self) -> int:
        return 2


def check_fraction(name: str, value, *, allow_zero: bool = True) -> float:
    """Validate a fraction argument such as ``val_fraction`` (in [0, 1))."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        accepted = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {accepted}, got {value}")
    return value


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Validate an integer argument such as ``n_samples`` (>= ``minimum``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def split_arrays(arrays: tuple, val_fraction: float, seed: int):
    """Shuffle rows with ``seed`` and split them into train and val ``TensorDataset``s.

    Returns ``(train, val)``; ``val`` is None when ``val_fraction`` is 0.
    """
    n = len(arrays[0])
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and (n_val == 0 or n_val == n):
        raise ValueError(
            f"val_fraction={val_fraction} of {n} samples leaves an empty train or val split"
        )
    perm = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, 0x5EED]).permutation(n)
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    train = TensorDataset(*(a[train_idx] for a in arrays))
    val = TensorDataset(*(a[val_idx] for a in arrays)) if n_val else None
    return train, val
