"""The built-in dataset factories by name, and ``load_dataset(name, **kwargs)``.

Factory contract (shared with ``register_datasets`` plugins): a callable taking
keyword arguments only (values from the ``data`` config, e.g. ``root``,
``n_samples``, ``seed``, ``val_fraction``) and returning ``DataSplits``: the
train and val datasets plus ``input_shape``, ``num_classes`` and
``target_shape``. Defaults come from the factory's signature.
"""
from __future__ import annotations

import difflib
import inspect

from .cifar import cifar10
from .digits import digits
from .idx import fashion_mnist, mnist
from .npz import npz
from .splits import DataSplits
from .synthetic import regression, shapes, spirals

__all__ = ["BUILTIN_DATASETS", "load_dataset", "check_factory_kwargs"]

BUILTIN_DATASETS = {
    "spirals": spirals,
    "regression": regression,
    "shapes": shapes,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
    "cifar10": cifar10,
    "digits": digits,
    "npz": npz,
}


def check_factory_kwargs(name: str, factory, kwargs: dict) -> None:
    """Raise TypeError naming any keyword ``factory`` does not accept, with the accepted ones."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p, v in params.items()
                if v.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"dataset {name!r} got an unexpected argument {key!r}{hint}; "
                f"accepted: {', '.join(accepted)}"
            )


def _registered_factory(name: str):
    """A dataset registered by a plugin, or None (the plugin manager is optional here)."""
    try:
        from ..plugins import registry  # noqa: PLC0415 - avoid loading plugins unless needed
    except ImportError:
        return None, []
    datasets = registry("datasets")
    if name in datasets:
        return datasets[name], sorted(datasets)
    return None, sorted(datasets)


def load_dataset(name: str, **kwargs) -> DataSplits:
    """Build dataset ``name`` with ``kwargs``: ``train_ds, val_ds = load_dataset("spirals")``.

    Built-in names are resolved directly; other names are looked up in the
    plugin registry (datasets registered through ``register_datasets``).

    Raises:
        KeyError: unknown name (the message lists the available names).
        TypeError: an argument the factory does not accept (the accepted ones are listed).
    """
    factory = BUILTIN_DATASETS.get(name)
    available = sorted(BUILTIN_DATASETS)
    if factory is None:
        factory, registered = _registered_factory(name)
        available = sorted(set(available) | set(registered))
    if factory is None:
        close = difflib.get_close_matches(str(name), available, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown dataset {name!r}{hint}; available: {', '.join(available)}")
    check_factory_kwargs(name, factory, kwargs)
    result = factory(**kwargs)
    if not isinstance(result, DataSplits):
        raise TypeError(f"dataset factory {name!r} returned {type(result).__name__}; it must return DataSplits")
    return result
