"""What ``trainkit plugins`` shows: each plugin's version, distribution, registrations and hooks."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import hookspecs
from .._version import __version__
from .entry_points import BUILTIN_PREFIX
from .manager import TrainkitPluginManager, get_plugin_manager
from .registry import registry

__all__ = ["PluginInfo", "plugin_info"]


@dataclass
class PluginInfo:
    """What ``trainkit plugins`` shows for one plugin."""

    name: str
    version: str | None
    distribution: str | None
    registered: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False


def plugin_info(pm: TrainkitPluginManager | None = None) -> list[PluginInfo]:
    """One :class:`PluginInfo` per registered plugin: built-ins first, then by name."""
    pm = pm or get_plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    provided: dict[str, dict[str, list[str]]] = {}
    for kind in hookspecs.REGISTRY_KINDS:
        reg = registry(kind, pm)
        for item, provider in reg.providers.items():
            provided.setdefault(provider, {}).setdefault(kind, []).append(item)
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        builtin = name.startswith(BUILTIN_PREFIX)
        dist = dists.get(id(plugin))
        if builtin:
            version, dist_name = __version__, "trainkit"
        elif dist is not None:
            version, dist_name = dist.version, dist.project_name
        else:
            version, dist_name = getattr(plugin, "__version__", None), None
        hooks = sorted(c.name for c in (pm.get_hookcallers(plugin) or []))
        registered_items = {k: sorted(v) for k, v in provided.get(name, {}).items()}
        infos.append(PluginInfo(name, version, dist_name, registered_items, hooks, builtin))
    infos.sort(key=lambda i: (not i.builtin, i.name))
    return infos
