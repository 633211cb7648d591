"""The plugin manager: built-ins, entry-point plugins, name registries, hook calls.

trainkit's own features (optimizers, schedulers, TensorBoard, checkpoints, ...)
are ordinary plugins listed in :data:`DEFAULT_PLUGINS` and loaded through the
same path as third-party ones, which come from the ``trainkit`` entry-point
group::

    # pyproject.toml of a third-party distribution
    [project.entry-points.trainkit]
    lion = "trainkit_lion"

    # trainkit_lion.py
    import trainkit

    @trainkit.hookimpl
    def register_optimizers(register):
        register("lion", Lion)

Environment variables:
    TRAINKIT_LOAD_PLUGINS: comma-separated entry-point names; when set, only
        those third-party plugins are loaded (built-ins always are).
    TRAINKIT_STRICT_PLUGINS: ``1`` makes a plugin that fails to load (import,
        hook validation, or an exception inside its ``register_*`` hook) fatal
        instead of a :class:`PluginLoadWarning`; a skipped plugin is also
        listed in ``pm.failures`` (shown by ``trainkit plugins``).

Only pluggy's public API is used (``get_hookimpls``, ``get_hookcallers``,
``list_plugin_distinfo``, ``load_setuptools_entrypoints``).
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import logging
import os
import types
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs

__all__ = [
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
    "UnknownNameError",
    "call_hook",
    "get_plugin_manager",
    "plugin_info",
    "registry",
    "reset_plugin_manager",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "trainkit"

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
    "early_stopping",
    "nan_guard",
)

#: Built-ins allowed to be absent from the tree (none: a missing built-in is an error).
_OPTIONAL_BUILTINS: frozenset[str] = frozenset()

BUILTIN_PREFIX = "trainkit."


# =========================================================================== errors
class PluginLoadError(RuntimeError):
    """A plugin could not be imported, registered or validated (strict mode or built-in)."""


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to load and was left out."""


class DuplicateNameError(ValueError):
    """Two plugins (or one, twice) registered the same name in one registry."""


class UnknownNameError(KeyError):
    """A registry has no entry of that name; the message lists what exists and who provides it."""

    def __init__(self, kind: str, name: str, available: Mapping[str, str]):
        self.kind = kind
        self.name = name
        self.available = dict(available)
        super().__init__(name)

    def __str__(self) -> str:
        singular = self.kind[:-1] if self.kind.endswith("s") else self.kind
        listing = ", ".join(f"{n} ({p})" for n, p in sorted(self.available.items())) or "none"
        close = difflib.get_close_matches(str(self.name), list(self.available), n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {singular} {self.name!r}.{hint} Available {self.kind} (provider): {listing}"


class PluginHookError(RuntimeError):
    """An exception raised inside a hook implementation, naming the plugin and the hook.

    Attributes:
        plugin: the plugin's registered name.
        hook: the hook's name.
        original: the exception the implementation raised (also ``__cause__``).
    """

    def __init__(self, plugin: str, hook: str, original: BaseException):
        self.plugin = plugin
        self.hook = hook
        self.original = original
        super().__init__(
            f"plugin {plugin!r} failed in hook {hook!r}: {type(original).__name__}: {original}"
        )


class TrainingAbort(RuntimeError):
    """Base for errors a plugin raises on purpose to stop training.

    Hook dispatch passes these through unwrapped (their message is already the
    one the user needs), e.g. the NaN guard's ``NonFiniteLossError``.
    """


# =========================================================================== manager
class TrainkitPluginManager(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` for project ``trainkit`` that caches name registries.

    The caches are dropped whenever a plugin implementing a registration hook
    is registered or unregistered.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.registries: dict[str, Registry] = {}
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
        _load_builtins(pm)
        _load_entry_points(pm)
        _manager = pm
    return _manager


def reset_plugin_manager() -> None:
    """Forget the cached manager; the next ``get_plugin_manager()`` reloads everything."""
    global _manager
    _manager = None


def _load_builtins(pm: TrainkitPluginManager) -> None:
    for short in DEFAULT_PLUGINS:
        modname = f"trainkit.builtin_plugins.{short}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname and short in _OPTIONAL_BUILTINS:
                log.debug("built-in plugin %s is not present yet", modname)
                continue
            raise PluginLoadError(f"built-in plugin {modname} failed to import: {exc}") from exc
        pm.register(module, name=BUILTIN_PREFIX + short)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"built-in plugin {exc.plugin!r} is invalid: {exc}") from exc


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


def _load_entry_points(pm: TrainkitPluginManager) -> None:
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


def _skip_failed_registration(pm: TrainkitPluginManager, impl, hook_name: str, exc: Exception) -> None:
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


# =========================================================================== registries
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
            _skip_failed_registration(pm, impl, hook_name, exc)
            continue  # nothing it staged is kept
        for name, obj in staged:
            reg._add(name, obj, provider)
    pm.registries[kind] = reg
    return reg


# =========================================================================== hook calls
def _call_impl(impl, hook_name: str, kwargs: dict) -> Any:
    try:
        return impl.function(*[kwargs[a] for a in impl.argnames])
    except (PluginHookError, TrainingAbort):
        raise
    except Exception as exc:
        raise PluginHookError(impl.plugin_name, hook_name, exc) from exc


def _is_firstresult(caller) -> bool:
    spec = getattr(caller, "spec", None)
    return bool(spec is not None and spec.opts.get("firstresult"))


def _has_wrappers(impls) -> bool:
    return any(getattr(i, "wrapper", False) or getattr(i, "hookwrapper", False) for i in impls)


def call_hook(hook_name: str, pm: pluggy.PluginManager | None = None, **kwargs: Any) -> Any:
    """Call every implementation of ``hook_name``; an exception names the plugin.

    Implementations run in pluggy's order (LIFO, ``tryfirst``/``trylast``
    honoured) but one at a time, so that a failure is re-raised as
    :class:`PluginHookError` naming the failing plugin. Hooks declared
    ``firstresult`` return the first non-None result, others a list.
    """
    pm = pm or get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    impls = caller.get_hookimpls()
    if _has_wrappers(impls):
        try:
            return caller(**kwargs)
        except (PluginHookError, TrainingAbort):
            raise
        except Exception as exc:
            names = ", ".join(i.plugin_name for i in impls)
            raise PluginHookError(f"one of [{names}]", hook_name, exc) from exc
    first = _is_firstresult(caller)
    results = []
    for impl in reversed(impls):
        result = _call_impl(impl, hook_name, kwargs)
        if result is not None:
            if first:
                return result
            results.append(result)
    return None if first else results


class HookDispatcher:
    """Fast calls of lifecycle hooks for one ``fit()``, with errors naming the plugin.

    The set of implementations is snapshot at construction (plugins do not
    change during a fit), so a call with no implementation costs one dict
    lookup. ``call_all`` runs every implementation even when some fail
    (``on_exception``/``on_teardown``), logging the failures.
    """

    def __init__(self, pm: pluggy.PluginManager, hook_names: Iterable[str]):
        self._pm = pm
        self._impls: dict[str, list] = {}
        self._first: dict[str, bool] = {}
        self._wrapped: set[str] = set()
        for name in hook_names:
            caller = getattr(pm.hook, name)
            impls = caller.get_hookimpls()
            if _has_wrappers(impls):
                self._wrapped.add(name)
            self._impls[name] = list(reversed(impls))
            self._first[name] = _is_firstresult(caller)

    def has(self, hook_name: str) -> bool:
        """True when at least one plugin implements ``hook_name``."""
        return bool(self._impls.get(hook_name))

    def __call__(self, hook_name: str, **kwargs: Any) -> Any:
        impls = self._impls[hook_name]
        if not impls:
            return None
        if hook_name in self._wrapped:
            return call_hook(hook_name, self._pm, **kwargs)
        if self._first[hook_name]:
            for impl in impls:
                result = _call_impl(impl, hook_name, kwargs)
                if result is not None:
                    return result
            return None
        for impl in impls:
            _call_impl(impl, hook_name, kwargs)
        return None

    def call_all(self, hook_name: str, **kwargs: Any) -> list[PluginHookError]:
        """Run every implementation, collecting (and logging) failures instead of stopping."""
        failures = []
        for impl in self._impls[hook_name]:
            try:
                _call_impl(impl, hook_name, kwargs)
            except Exception as exc:  # noqa: BLE001 - every plugin must get its turn
                err = exc if isinstance(exc, PluginHookError) else PluginHookError(impl.plugin_name, hook_name, exc)
                log.error("%s", err, exc_info=exc)
                failures.append(err)
        return failures


def _unique_name(pm: pluggy.PluginManager, base: str) -> str:
    name, n = base, 1
    while pm.has_plugin(name) or pm.is_blocked(name):
        n += 1
        name = f"{base}#{n}"
    return name


def plugin_name_of(obj: Any) -> str:
    """The name a per-fit plugin object is known by: its ``name`` attribute or class name."""
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) and name else type(obj).__name__


@contextlib.contextmanager
def registered(objects: Iterable[Any], pm: pluggy.PluginManager | None = None) -> Iterator[list[str]]:
    """Register plugin objects for the duration of a ``with`` block (one fit).

    Yields the names they were registered under. A misspelled hook
    implementation raises ``PluginLoadError`` naming the plugin before
    anything runs; everything is unregistered on exit.
    """
    pm = pm or get_plugin_manager()
    done: list[tuple[Any, str]] = []
    try:
        for obj in objects:
            if pm.is_registered(obj):
                continue
            name = pm.register(obj, name=_unique_name(pm, plugin_name_of(obj)))
            done.append((obj, name))
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            bad = pm.get_name(exc.plugin) or plugin_name_of(exc.plugin)
            raise PluginLoadError(f"plugin {bad!r} is invalid: {exc}") from exc
        yield [name for _, name in done]
    finally:
        for obj, _ in reversed(done):
            if pm.is_registered(obj):
                pm.unregister(obj)


# =========================================================================== introspection
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
    from . import __version__

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
