"""trainkit's plugin system on pluggy: one home per concern.

* :mod:`.manager`: the process-wide manager; built-ins load through it first.
* :mod:`.entry_points`: third-party plugins from the ``trainkit`` entry-point group.
* :mod:`.registry`: name registries filled by the ``register_<kind>`` hooks.
* :mod:`.dispatch`: hook calls whose errors name the plugin; per-fit registration.
* :mod:`.info`: what ``trainkit plugins`` lists.
* :mod:`.callback`: the base of callbacks configured as ``callbacks.<name>``;
* :mod:`.errors`: the exceptions.

A third-party plugin::

    # pyproject.toml of a third-party distribution
    [project.entry-points.trainkit]
    lion = "trainkit_lion"

    # trainkit_lion.py
    import trainkit

    @trainkit.hookimpl
    def register_optimizers(register):
        register("lion", Lion)

Only pluggy's public API is used (``get_hookimpls``, ``get_hookcallers``,
``list_plugin_distinfo``, ``load_setuptools_entrypoints``).
"""
from __future__ import annotations

from .callback import ConfiguredCallback
from .dispatch import HookDispatcher, call_hook, plugin_name_of, registered
from .entry_points import BUILTIN_PREFIX, ENTRY_POINT_GROUP
from .errors import (
    DuplicateNameError,
    PluginHookError,
    PluginLoadError,
    PluginLoadWarning,
    TrainingAbort,
    UnknownNameError,
)
from .info import PluginInfo, plugin_info
from .manager import DEFAULT_PLUGINS, TrainkitPluginManager, get_plugin_manager, reset_plugin_manager
from .registry import Registry, registry

__all__ = [
    "BUILTIN_PREFIX",
    "ConfiguredCallback",
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "DuplicateNameError",
    "HookDispatcher",
    "PluginHookError",
    "PluginInfo",
    "PluginLoadError",
    "PluginLoadWarning",
    "Registry",
    "TrainingAbort",
    "TrainkitPluginManager",
    "UnknownNameError",
    "call_hook",
    "get_plugin_manager",
    "plugin_info",
    "plugin_name_of",
    "registered",
    "registry",
    "reset_plugin_manager",
]
