"""The pluggy markers of the ``trainkit`` project and the types hook signatures share.

``hookimpl`` marks a plugin's implementation (re-exported as
``trainkit.hookimpl``); ``hookspec`` marks a specification. Both carry the
project name, so only trainkit's plugin manager picks them up. The phase
modules next to this one mark theirs with :func:`spec`, which is ``hookspec``
plus the docstring parts every hook shares, so those are written once.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import pluggy

__all__ = ["PROJECT_NAME", "hookspec", "hookimpl", "spec", "Register", "Metrics", "Checkpoint"]

PROJECT_NAME = "trainkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[str, Any], None]
"""``register(name, obj)``: the callback every registration hook receives."""

Metrics = dict[str, float]
Checkpoint = dict[str, Any]
#: The running ``trainkit.trainer.Trainer``. Named here, not imported: the hook specifications sit
#: below the Trainer in the import graph (the Trainer imports them).
Trainer = Any

#: The ``Args:`` entry of every hook taking the Trainer.
TRAINER_ARG = "trainer: the running Trainer."
#: The ``Returns:`` section of every hook whose docstring has none.
NO_RESULT = "Nothing; the return value is ignored."


def spec(fn=None, **options):
    """``@hookspec`` (pluggy ``options`` such as ``firstresult=True``) that completes the docstring.

    The phase modules' docstrings say only what is particular to a hook; the
    parts every hook shares are written once, here, and added to the docstring
    ``help()`` and ``inspect.getdoc`` show: :data:`TRAINER_ARG` as the first
    ``Args:`` entry of a hook taking ``trainer``, and ``Returns:``
    :data:`NO_RESULT` when the docstring has no ``Returns:`` section.
    """

    def mark(f):
        takes_trainer = "trainer" in inspect.signature(f).parameters
        f.__doc__ = _complete(inspect.cleandoc(f.__doc__ or ""), takes_trainer)
        return hookspec(**options)(f)

    return mark if fn is None else mark(fn)


def _complete(doc: str, takes_trainer: bool) -> str:
    at = doc.find("\nReturns:\n")
    body, returns = (doc, f"Returns:\n    {NO_RESULT}") if at < 0 else (doc[:at].rstrip(), doc[at + 1:])
    if takes_trainer and "\nArgs:\n" in body:
        body = body.replace("\nArgs:\n", f"\nArgs:\n    {TRAINER_ARG}\n", 1)
    elif takes_trainer:
        body += f"\n\nArgs:\n    {TRAINER_ARG}"
    return f"{body}\n\n{returns}"
