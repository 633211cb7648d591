"""Third-party plugins from the ``trainkit`` entry-point group, each loaded in isolation.

A distribution declares::

    [project.entry-points.trainkit]
    lion = "trainkit_lion"

Environment variables:
    TRAINKIT_LOAD_PLUGINS: comma-separated entry-point names; when set, only
        those third-party plugins are loaded (built-ins always are).
    TRAINKIT_STRICT_PLUGINS: ``1`` makes a plugin that fails to load (import,
        hook validation, or an exception inside its ``register_*`` hook) fatal
        instead of a :class:`PluginLoadWarning`; a skipped plugin is also
        listed in ``pm.failures`` (shown by ``trainkit plugins``).
"""
from __future__ import annotations

import importlib.metadata
import os
import warnings

import pluggy

from .errors import DuplicateNameError, PluginLoadError, PluginLoadWarning

__all__ = ["BUILTIN_PREFIX", "ENTRY_POINT_GROUP", "load_entry_points", "skip_failed_registration"]

ENTRY_POINT_GROUP = "trainkit"

#: Plugin names of the built-ins; reserved (an entry point may not use it).
BUILTIN_PREFIX = "trainkit."


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _strict() -> bool:
    return os.environ.get("TRAINKIT_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes", "on")


def _dist_label(ep) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"distribution {dist.metadata['Name']} {dist.version}"


def load_entry_points(pm: pluggy.PluginManager) -> None:
    """Load each ``trainkit`` entry point in isolation; see the module docstring."""
    only = _env_names("TRAINKIT_LOAD_PLUGINS")
    strict = _strict()
    seen: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if only is not None and ep.name not in only:
            continue
        label = _dist_label(ep)
        try:
            if ep.name in seen:
                raise DuplicateNameError(
                    f"entry-point name {ep.name!r} is used by both {seen[ep.name]} and {label}"
                )
            seen[ep.name] = label
            if ep.name.startswith(BUILTIN_PREFIX):
                raise PluginLoadError(f"names starting with {BUILTIN_PREFIX!r} are reserved for built-ins")
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
            try:
                pm.check_pending()
            except pluggy.PluginValidationError:
                pm.unregister(name=ep.name)
                raise
        except Exception as exc:
            message = (
                f"trainkit plugin {ep.name!r} from {label} failed to load: "
                f"{type(exc).__name__}: {exc}"
            )
            if strict:
                raise PluginLoadError(message + " (TRAINKIT_STRICT_PLUGINS=1)") from exc
            pm.failures.append(message)
            warnings.warn(message + "; it was skipped", PluginLoadWarning, stacklevel=3)


def _plugin_origin(pm: pluggy.PluginManager, plugin) -> str:
    """``distribution <name> <version>`` of a plugin loaded from an entry point, or what is known."""
    for obj, dist in pm.list_plugin_distinfo():
        if obj is plugin:
            return f"distribution {dist.project_name} {dist.version}"
    return "no distribution (registered directly)"


def skip_failed_registration(pm: pluggy.PluginManager, impl, hook_name: str, exc: Exception) -> None:
    """A third-party plugin failed in a registration hook: drop it with a warning (or fail if strict)."""
    origin = _plugin_origin(pm, impl.plugin)
    message = (
        f"trainkit plugin {impl.plugin_name!r} from {origin} failed in {hook_name}: "
        f"{type(exc).__name__}: {exc}"
    )
    if _strict():
        raise PluginLoadError(message + " (TRAINKIT_STRICT_PLUGINS=1)") from exc
    pm.failures.append(message)
    warnings.warn(message + "; it was skipped", PluginLoadWarning, stacklevel=4)
    if pm.is_registered(impl.plugin):
        pm.unregister(impl.plugin)  # also drops what it registered in other kinds (caches cleared)
