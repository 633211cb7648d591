"""The process-wide pluggy manager: trainkit's built-in plugins first, then the entry points.

trainkit's own features (optimizers, schedulers, TensorBoard, checkpoints, ...)
are ordinary plugins listed in :data:`DEFAULT_PLUGINS` and loaded through the
same manager as third-party ones (:mod:`trainkit.plugins.entry_points`).
"""
from __future__ import annotations

import importlib
import types
from typing import Any

import pluggy

from .. import hookspecs
from .entry_points import BUILTIN_PREFIX, load_entry_points
from .errors import PluginLoadError

__all__ = ["DEFAULT_PLUGINS", "TrainkitPluginManager", "get_plugin_manager", "reset_plugin_manager"]

#: trainkit's own plugins: modules of ``trainkit.builtin_plugins``, in load order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "optimizers",
    "schedulers",
    "clipping",
    "param_rules",
    "models",
    "datasets",
    "losses",
    "tensorboard",
    "progress",
    "checkpointing",
    "metrics_file",
    "early_stopping",
    "nan_guard",
    "ema",
    "swa",
)


class TrainkitPluginManager(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` for project ``trainkit`` that caches name registries.

    The caches are dropped whenever a plugin implementing a registration hook
    is registered or unregistered.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.registries: dict[str, Any] = {}  # kind -> Registry, filled by registry()
        #: one line per third-party plugin that failed to load or register and was skipped
        self.failures: list[str] = []
        self._hookimpl_opts_cache: dict[tuple[type, str], Any] = {}

    def parse_hookimpl_opts(self, plugin, name: str):
        """pluggy's lookup of ``@hookimpl`` options, cached per class for plugin objects.

        Per-fit plugins (progress bar, NaN guard, ...) are new instances of the
        same classes every ``fit()``; without the cache pluggy re-inspects every
        attribute of each one, which was most of the Trainer's fixed cost per fit.
        Modules and attributes set on the instance itself are not cached.
        """
        if isinstance(plugin, types.ModuleType) or name in getattr(plugin, "__dict__", {}):
            return super().parse_hookimpl_opts(plugin, name)
        key = (type(plugin), name)
        try:
            return self._hookimpl_opts_cache[key]
        except KeyError:
            opts = self._hookimpl_opts_cache[key] = super().parse_hookimpl_opts(plugin, name)
            return opts

    def register(self, plugin, name: str | None = None):
        registered = super().register(plugin, name=name)
        if registered is not None and _implements_registration(self, plugin):
            self.registries.clear()
        return registered

    def unregister(self, plugin=None, name: str | None = None):
        if plugin is None and name is not None:
            plugin = self.get_plugin(name)
        clear = plugin is not None and _implements_registration(self, plugin)
        removed = super().unregister(plugin, name=name)
        if clear:
            self.registries.clear()
        return removed


def _implements_registration(pm: pluggy.PluginManager, plugin) -> bool:
    callers = pm.get_hookcallers(plugin) or []
    return any(c.name.startswith("register_") for c in callers)


_manager: TrainkitPluginManager | None = None


def get_plugin_manager() -> TrainkitPluginManager:
    """The process-wide plugin manager, built (and plugins loaded) on first call."""
    global _manager
    if _manager is None:
        pm = TrainkitPluginManager()
        load_builtins(pm)
        load_entry_points(pm)
        _manager = pm
    return _manager


def reset_plugin_manager() -> None:
    """Forget the cached manager; the next ``get_plugin_manager()`` reloads everything."""
    global _manager
    _manager = None


def load_builtins(pm: TrainkitPluginManager) -> None:
    for short in DEFAULT_PLUGINS:
        modname = f"trainkit.builtin_plugins.{short}"
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            raise PluginLoadError(f"built-in plugin {modname} failed to import: {exc}") from exc
        pm.register(module, name=BUILTIN_PREFIX + short)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"built-in plugin {exc.plugin!r} is invalid: {exc}") from exc
