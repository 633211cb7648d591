"""``trainkit.utils``: torch.utils' import paths for code written against torch.

* ``trainkit.utils.data``: ``DataLoader``, ``Dataset``, ``TensorDataset``,
  ``Subset``, ``random_split``, ``default_collate`` (they live in :mod:`trainkit.data`).
* ``trainkit.utils.tensorboard``: ``SummaryWriter`` (tensorboardX, imported when
  a writer is made).

Both load on first use, as torch's do: ``import trainkit as torch`` then
``torch.utils.data.DataLoader`` works without an explicit import.
"""


def __getattr__(name):
    import importlib

    if name in ("data", "tensorboard"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'trainkit.utils' has no attribute {name!r}")
