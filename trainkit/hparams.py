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
    "optimizer.name": "optimizer",
    "lr": "lr",
    "data.batch_size": "batch_size",
    "model.name": "model",
}

#: Command-line keys that are not hyperparameters (where output goes, how it is shown).
_NOT_HPARAMS = ("callbacks.", "hydra", "resume", "init_", "device", "trainer.device", "trainer.threads",
                "trainer.log_every", "trainer.num_processes", "trainer.strategy")


def compared_hparams(config: Mapping | None, run_dir=None) -> dict[str, Any]:
    """The hyperparameters people compare between runs, a handful (TensorBoard's HPARAMS tab shows the
    first few alphabetically, so 75 keys identical across runs would hide the ones that differ):

    * in a sweep, the keys the sweep varies (from Hydra's ``multirun.yaml`` beside the job's directory);
      in a single run, the keys set on its command line (``.hydra/overrides.yaml``);
    * then optimizer, lr, batch size and model.
    """
    flat = hparams_from_config(config)
    if not flat:
        return {}
    chosen: dict[str, Any] = {}
    for key in _compared_keys(run_dir):
        key = f"{key}.name" if f"{key}.name" in flat and key not in flat else key
        if key in flat:
            chosen[KEY_HPARAMS.get(key, key)] = flat[key]
    if "lr" not in flat and "optimizer.lr" in flat:  # a Python-API config without the top-level lr
        flat["lr"] = flat["optimizer.lr"]
    for key, name in KEY_HPARAMS.items():
        if key in flat and name not in chosen:
            chosen[name] = flat[key]
    return chosen


def _override_keys(overrides) -> list[str]:
    from .runs.table import override_key

    keys = []
    for key in map(override_key, overrides or []):
        if "/" not in key and not key.startswith(_NOT_HPARAMS) and key not in keys:
            keys.append(key)
    return keys


def _compared_keys(run_dir) -> list[str]:
    """The swept keys of the sweep ``run_dir`` belongs to, else the run's own override keys."""
    if run_dir is None:
        return []
    from pathlib import Path

    import yaml

    from .runs.table import run_overrides

    run_dir = Path(run_dir)
    multirun = run_dir.parent / "multirun.yaml"
    if multirun.is_file():
        try:
            task = yaml.safe_load(multirun.read_text())["hydra"]["overrides"]["task"]
        except (KeyError, TypeError, ValueError):
            task = []
        swept = [o for o in task if "," in str(o).split("=", 1)[-1] or "(" in str(o).split("=", 1)[-1]]
        return _override_keys(swept)
    return _override_keys(run_overrides(run_dir))
