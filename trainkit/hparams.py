"""A run config flattened to ``{"optimizer.lr": 0.001, ...}``: TensorBoard hparams and resume's config diff."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_config", "hparams_from_config"]


def flatten_config(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


def hparams_from_config(config: Mapping | None) -> dict[str, Any]:
    """Flatten a config to ``{"a.b": scalar}`` keeping TensorBoard-friendly values."""
    if not config:
        return {}
    out = {}
    for k, v in flatten_config(config).items():
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif v is None:
            out[k] = "None"
        else:
            out[k] = str(v)
    return out
