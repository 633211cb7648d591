"""The exceptions of plugin loading, registries and hook calls (no pluggy needed to import them)."""
from __future__ import annotations

import difflib
from collections.abc import Mapping

__all__ = ["DuplicateNameError", "PluginHookError", "PluginLoadError", "PluginLoadWarning", "TrainingAbort",
           "UnknownNameError"]


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
