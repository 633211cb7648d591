"""The pluggy markers of the ``trainkit`` project and the types hook signatures share.

``hookimpl`` marks a plugin's implementation (re-exported as
``trainkit.hookimpl``); ``hookspec`` marks the specifications in the phase
modules next to this one. Both carry the project name, so only trainkit's
plugin manager picks them up.
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

__all__ = ["PROJECT_NAME", "hookspec", "hookimpl", "Register", "Metrics", "Checkpoint"]

PROJECT_NAME = "trainkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[str, Any], None]
"""``register(name, obj)``: the callback every registration hook receives."""

Metrics = dict[str, float]
Checkpoint = dict[str, Any]
