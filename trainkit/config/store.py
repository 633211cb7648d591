"""Registering trainkit's configs in Hydra's ConfigStore, and the run id of ``hydra.run.dir``.

Nodes in the ConfigStore:

* ``trainkit_base``: the schema of the whole run (:class:`~trainkit.config.schema.Config`);
* one node per registered optimizer, scheduler and loss (and per plugin-registered
  model or dataset without a YAML file), generated from its signature
  (:mod:`trainkit.config.nodes`);
* ``callbacks/<name>`` for every registered callback that declares a ``Config``
  dataclass, placed at ``callbacks.<name>``: ``conf/callbacks/default.yaml``
  lists the built-in ones, and a third-party one is added with
  ``callbacks=[default,<name>]``.

Importing this module imports Hydra only inside :func:`register_configs`.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from importlib import resources

from omegaconf import OmegaConf

from ..plugins import registry
from .nodes import node_for
from .schema import REGISTRY_GROUPS, Config

__all__ = ["RUN_ID_ENV", "register_configs", "reset_run_id", "run_id"]

_RUN_ID: str | None = None
#: The environment variable that carries the run id to the processes of a sweep's jobs.
RUN_ID_ENV = "TRAINKIT_RUN_ID"


def reset_run_id() -> None:
    """Start a new run: a fresh :func:`run_id` (called once per ``trainkit train``).

    ``trainkit train`` exports the id as ``TRAINKIT_RUN_ID`` while Hydra runs, so
    the processes a launcher starts for the jobs of a sweep (joblib's workers,
    submitit's jobs) resolve ``hydra.sweep.dir`` to the same folder.
    """
    global _RUN_ID
    _RUN_ID = None


def run_id() -> str:
    """The current run's id: time stamp plus a random suffix, so runs never share a directory.

    Computed once per run (``trainkit train`` calls :func:`reset_run_id` first), so
    a run's directory name is stable however often Hydra resolves it, and differs
    between two runs started in the same second or in the same process.
    """
    global _RUN_ID
    exported = os.environ.get(RUN_ID_ENV)
    if exported:
        return exported
    if _RUN_ID is None:
        _RUN_ID = time.strftime("%Y-%m-%d_%H-%M-%S") + f"_{os.getpid() % 100000:05d}{secrets.token_hex(2)}"
    return _RUN_ID


def safe_name(overrides: str = "") -> str:
    """Overrides as a directory name that can be typed back on a command line unquoted:
    ``lr=0.001,optimizer=adam`` -> ``lr-0.001_optimizer-adam`` (Hydra's parser reads ``=`` and ``,`` in
    ``resume=<dir>`` as syntax), other characters outside ``[A-Za-z0-9._+-]`` as ``-``, at most 80."""
    text = str(overrides or "").replace("=", "-").replace(",", "_")
    text = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-_")
    return text[:80].rstrip("-_.")


def run_name(overrides: str = "") -> str:
    """A single run's directory name: the run id, then what the command line set
    (``<id>_lr-0.001_optimizer-adam``), so ``tensorboard --logdir runs`` names each run by what it is."""
    tail = safe_name(overrides)
    return f"{run_id()}_{tail}" if tail else run_id()


def _yaml_exists(group: str, name: str) -> bool:
    try:
        return (resources.files("trainkit.conf") / group / f"{name}.yaml").is_file()
    except (ModuleNotFoundError, FileNotFoundError):
        return False


def register_configs() -> None:
    """Register the schema, the resolvers and one node per registered plugin name.

    Loads the plugin manager (built-ins and entry points). Safe to call more
    than once: nodes are replaced.
    """
    from hydra.core.config_store import ConfigStore

    if not OmegaConf.has_resolver("trainkit.run_id"):
        OmegaConf.register_new_resolver("trainkit.run_id", run_id)
    if not OmegaConf.has_resolver("trainkit.run_name"):
        OmegaConf.register_new_resolver("trainkit.run_name", run_name)
    if not OmegaConf.has_resolver("trainkit.safe_name"):
        OmegaConf.register_new_resolver("trainkit.safe_name", safe_name)
    cs = ConfigStore.instance()
    cs.store(name="trainkit_base", node=Config)
    for group, kind in REGISTRY_GROUPS.items():
        reg = registry(kind)
        for name in list(reg):
            if group in ("model", "data") and _yaml_exists(group, name):
                continue  # a curated YAML file describes this one
            cs.store(group=group, name=name, node=node_for(group, name, reg.get(name)))
    callbacks = registry("callbacks")
    for name in callbacks:
        schema = getattr(callbacks.get(name), "Config", None)
        if schema is not None:
            cs.store(group="callbacks", name=name, node=schema, package=f"callbacks.{name}")
