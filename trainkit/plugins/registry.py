"""Name registries (optimizers, schedulers, models, ...) built from the ``register_<kind>`` hooks.

Each registry is built once per plugin manager and cached there; registering
or unregistering a plugin that implements a registration hook drops the caches.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .. import hookspecs
from .entry_points import BUILTIN_PREFIX, skip_failed_registration
from .errors import DuplicateNameError, PluginHookError, UnknownNameError
from .manager import TrainkitPluginManager, get_plugin_manager

__all__ = ["Registry", "registry"]


class Registry(Mapping):
    """Name -> object for one kind (optimizers, schedulers, ...), with providers.

    Built by calling every plugin's ``register_<kind>(register)`` hook.
    Iterates in sorted name order.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._providers: dict[str, str] = {}

    def _add(self, name: str, obj: Any, provider: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"plugin {provider!r}: register_{self.kind} names must be non-empty strings, got {name!r}"
            )
        if name in self._items:
            raise DuplicateNameError(
                f"{self.kind[:-1]} {name!r} is registered by both plugin "
                f"{self._providers[name]!r} and plugin {provider!r}"
            )
        self._items[name] = obj
        self._providers[name] = provider

    def __getitem__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._providers) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    _MISSING = object()

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """The object registered as ``name``; UnknownNameError (listing names) if none."""
        if name in self._items:
            return self._items[name]
        if default is Registry._MISSING:
            raise UnknownNameError(self.kind, name, self._providers)
        return default

    def provider(self, name: str) -> str:
        """The name of the plugin that registered ``name``."""
        if name not in self._providers:
            raise UnknownNameError(self.kind, name, self._providers)
        return self._providers[name]

    @property
    def providers(self) -> dict[str, str]:
        """name -> providing plugin, for every entry."""
        return dict(self._providers)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._items)})"


def registry(kind: str, pm: TrainkitPluginManager | None = None) -> Registry:
    """The registry of ``kind`` (one of ``hookspecs.REGISTRY_KINDS``), built once and cached."""
    if kind not in hookspecs.REGISTRY_KINDS:
        raise ValueError(
            f"unknown registry kind {kind!r}; expected one of {', '.join(hookspecs.REGISTRY_KINDS)}"
        )
    pm = pm or get_plugin_manager()
    cached = pm.registries.get(kind)
    if cached is not None:
        return cached
    reg = Registry(kind)
    hook_name = f"register_{kind}"
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        provider = impl.plugin_name
        staged: list[tuple[str, Any]] = []
        try:
            impl.function(lambda name, obj: staged.append((name, obj)))
        except Exception as exc:
            if provider.startswith(BUILTIN_PREFIX):
                raise PluginHookError(provider, hook_name, exc) from exc
            skip_failed_registration(pm, impl, hook_name, exc)
            continue  # nothing it staged is kept
        for name, obj in staged:
            reg._add(name, obj, provider)
    pm.registries[kind] = reg
    return reg
