"""Built-in datasets, registered through the same hook third-party plugins use.

Factory contract for ``register_datasets(register)``: ``register(name, factory)``
where ``factory`` is a callable taking keyword arguments only (the ``data``
config group's keys, e.g. ``root``, ``path``, ``n_samples``, ``seed``,
``val_fraction``, ``flatten``; defaults from its signature) and returning
``trainkit.data.DataSplits``:

* ``train`` / ``val``: map-style datasets (``val`` may be None), usually
  ``TensorDataset``s so ``DataLoader`` takes its array fast path;
* ``input_shape``: shape of one input, e.g. ``(2,)`` or ``(3, 32, 32)``;
  ``in_features`` is its product (an MLP's first width);
* ``num_classes``: int for classification, None for regression, and
  ``target_shape`` (``()`` for class indices, ``(1,)`` for one regression output);
  ``out_features`` is what a model's last layer needs.

``DataSplits`` unpacks as ``train_ds, val_ds``. Factories raise
``trainkit.data.DataFileNotFoundError`` (a ``FileNotFoundError``) for missing
files, ``DataFormatError`` for malformed ones and ``MissingDependencyError``
(an ``ImportError``) when an optional package is needed.
"""
from __future__ import annotations

from ..data.catalog import BUILTIN_DATASETS
from ..hookspecs import hookimpl


@hookimpl
def register_datasets(register) -> None:
    """Register spirals, regression, shapes, mnist, fashion_mnist, cifar10, digits and npz."""
    for name, factory in BUILTIN_DATASETS.items():
        register(name, factory)
