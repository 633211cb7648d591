"""Configs of ``trainkit train``: the schema (with :class:`ConfigError`), generated nodes, registration.

* :mod:`.schema`: the typed run schema and the error every config check raises;
* :mod:`.nodes`: nodes generated from the signatures of registered objects;
* :mod:`.store`: registration in Hydra's ConfigStore and the run id.
"""
from __future__ import annotations

from .nodes import node_for
from .schema import (
    DATA_DERIVED,
    LOADER_KEYS,
    MOVED_KEYS,
    REGISTRY_GROUPS,
    Config,
    ConfigError,
    GradClipConf,
    ParamsConf,
    TrainerConf,
)
from .store import register_configs, reset_run_id, run_id

__all__ = [
    "Config",
    "ConfigError",
    "DATA_DERIVED",
    "GradClipConf",
    "LOADER_KEYS",
    "MOVED_KEYS",
    "ParamsConf",
    "REGISTRY_GROUPS",
    "TrainerConf",
    "node_for",
    "register_configs",
    "reset_run_id",
    "run_id",
]
