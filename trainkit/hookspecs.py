"""Every hook a trainkit plugin can implement, grouped by lifecycle phase.

(Skeleton: registration hooks only. The Trainer issue adds the lifecycle hooks.)
"""
from __future__ import annotations

from typing import Callable

import pluggy

PROJECT_NAME = "trainkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]

# --------------------------------------------------------------------------- registration


@hookspec
def register_optimizers(register: Register) -> None:
    """Called once when the plugin manager builds its optimizer registry.

    Args:
        register: ``register(name, cls)`` adds optimizer class ``cls`` under the
            lowercase ``name`` used on the command line (``optimizer=name``).
    Return value is ignored.
    """


@hookspec
def register_schedulers(register: Register) -> None:
    """Called once when the scheduler registry is built; ``register(name, factory)``."""


@hookspec
def register_models(register: Register) -> None:
    """Called once when the model registry is built; ``register(name, factory)``."""


@hookspec
def register_datasets(register: Register) -> None:
    """Called once when the dataset registry is built; ``register(name, factory)``."""


@hookspec
def register_losses(register: Register) -> None:
    """Called once when the loss registry is built; ``register(name, cls)``."""
