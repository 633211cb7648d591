"""A run config flattened to ``{"optimizer.lr": 0.001, ...}``: TensorBoard hparams and resume's config diff."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["KEY_HPARAMS", "compared_hparams", "flatten_config", "hparams_from_config"]


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


#: The hyperparameters every run's TensorBoard hparams session shows (config key -> shown name).
KEY_HPARAMS = {
    "model.name": "model",
    "optimizer.name": "optimizer",
    "lr": "lr",
    "optimizer.lr": "optimizer.lr",
    "optimizer.weight_decay": "weight_decay",
    "scheduler.name": "scheduler",
    "data.name": "data",
    "data.batch_size": "batch_size",
    "trainer.max_epochs": "max_epochs",
    "trainer.seed": "seed",
}


def compared_hparams(config: Mapping | None, run_dir=None) -> dict[str, Any]:
    """The hyperparameters people compare between runs: the keys set on the command line (the jobs of a
    sweep differ in those; read from Hydra's ``.hydra/overrides.yaml`` of ``run_dir``), then model,
    optimizer, lr, batch size and a few more. Not all 75 keys of the config: TensorBoard's HPARAMS tab
    would show the first few alphabetically, identical across runs."""
    flat = hparams_from_config(config)
    if not flat:
        return {}
    chosen: dict[str, Any] = {}
    for key in _override_keys(run_dir):
        if key in flat:
            chosen[key] = flat[key]
    for key, name in KEY_HPARAMS.items():
        if key in flat and key not in chosen and name not in chosen:
            if key == "optimizer.lr" and flat.get("lr") == flat[key]:
                continue  # the same as lr
            chosen[name] = flat[key]
    return chosen


def _override_keys(run_dir) -> list[str]:
    if run_dir is None:
        return []
    from pathlib import Path

    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    import yaml

    keys = []
    for item in yaml.safe_load(path.read_text()) or []:
        key = str(item).split("=", 1)[0].lstrip("+~")
        if not key.startswith("hydra") and key not in ("resume", "init_from") and "/" not in key:
            keys.append(key)
    return keys
