"""``data`` config -> datasets and loaders, and what the model needs to know about the data."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.schema import LOADER_KEYS, ConfigError
from ..data import DataLoader
from .values import call_kwargs, lookup, plain

__all__ = ["DataInfo", "build_data", "check_loader_settings"]


@dataclass
class DataInfo:
    """What a model needs to know about the data to size itself."""

    input_shape: tuple
    num_classes: int | None
    target_shape: tuple

    def derived(self) -> dict:
        """Values for the model arguments of ``trainkit.config.DATA_DERIVED``."""
        shape = tuple(int(s) for s in self.input_shape)
        outputs = self.num_classes if self.num_classes else max(1, math.prod(self.target_shape or (1,)))
        values = {"in_features": math.prod(shape) if shape else 1, "num_classes": outputs, "out_features": outputs}
        if len(shape) == 3:
            values["in_channels"] = shape[0]
            values["image_size"] = shape[-1]
        return values


def check_loader_settings(node) -> None:
    """``data.batch_size`` (and ``val_batch_size`` when set) must be integers >= 1."""
    for key in ("batch_size", "val_batch_size"):
        value = plain(node.get(key)) if key in node else None
        if value is None and key == "val_batch_size":
            continue
        if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 1:
            hint = " (or null: the training batch size)" if key == "val_batch_size" else ""
            raise ConfigError(f"data.{key}={value!r} is not valid: it must be an integer >= 1{hint}")


def build_data(node, seed: int = 0):
    """Build the datasets and loaders of ``node`` (a ``data`` config).

    Returns:
        ``(train_loader, val_loader or None, DataInfo)``.
    """
    factory = lookup("datasets", "data", node.get("name"))
    kwargs = call_kwargs("data", node, factory, extra_keys=LOADER_KEYS)
    try:
        splits = factory(**kwargs)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        raise ConfigError(f"data={node.get('name')}: {exc}") from exc
    loader_cfg = {k: plain(node[k]) for k in LOADER_KEYS if k in node}
    check_loader_settings(node)
    batch_size = int(loader_cfg.get("batch_size") or 64)
    train = DataLoader(
        splits.train,
        batch_size=batch_size,
        shuffle=bool(loader_cfg.get("shuffle", True)),
        drop_last=bool(loader_cfg.get("drop_last", False)),
        seed=int(seed),
    )
    val = None
    if getattr(splits, "val", None) is not None:
        val = DataLoader(splits.val, batch_size=int(loader_cfg.get("val_batch_size") or batch_size), shuffle=False)
    info = DataInfo(tuple(splits.input_shape), splits.num_classes, tuple(getattr(splits, "target_shape", ())))
    return train, val, info
