"""Calling hooks: one implementation at a time, so a failure names the plugin that raised it.

:class:`HookDispatcher` is the Trainer's per-fit snapshot of the lifecycle hooks;
:func:`registered` registers per-fit plugin objects for one ``with`` block.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pluggy

from .errors import PluginHookError, PluginLoadError, TrainingAbort
from .manager import get_plugin_manager

__all__ = ["HookDispatcher", "call_hook", "plugin_name_of", "registered"]

log = logging.getLogger("trainkit.plugins")


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
