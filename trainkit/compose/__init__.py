"""From a composed run config to the objects of one run: one module per concern.

* :mod:`.values`: config values -> constructor arguments (coercion, signature checks);
* :mod:`.checks`: what is checked before a run directory exists (:func:`check_config`);
* :mod:`.data`, :mod:`.model`, :mod:`.groups`, :mod:`.schedule`, :mod:`.callbacks`:
  the builders of each part;
* :mod:`.run`: :func:`build_run`, all of them in order, and the Trainer.

``trainkit train`` composes the config with Hydra and hands it to :func:`build_run`.
Every user mistake found here raises :class:`~trainkit.config.ConfigError` whose
message names the config key, the value and what is accepted.
"""
from __future__ import annotations

from ..config.schema import ConfigError
from .callbacks import build_callbacks, build_grad_transforms
from .checks import RUN_METRICS, check_config, check_monitors, check_trainer, run_metrics
from .data import DataInfo, build_data, check_loader_settings
from .groups import build_groups
from .model import build_loss, build_model
from .run import Run, build_run
from .schedule import build_optimizer, build_scheduler, run_steps, updates_per_epoch
from .values import call_kwargs

__all__ = [
    "ConfigError",
    "DataInfo",
    "RUN_METRICS",
    "Run",
    "build_callbacks",
    "build_data",
    "build_grad_transforms",
    "build_groups",
    "build_loss",
    "build_model",
    "build_optimizer",
    "build_run",
    "build_scheduler",
    "call_kwargs",
    "check_config",
    "check_loader_settings",
    "check_monitors",
    "check_trainer",
    "run_metrics",
    "run_steps",
    "updates_per_epoch",
]
