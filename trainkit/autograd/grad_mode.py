"""The grad mode switch: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Whether ops record the graph is one flag per thread (as in PyTorch).
``Function.apply`` reads ``_state.enabled`` directly, on every op, so the flag
lives here, at the bottom of the import graph, and imports nothing from autograd.
"""
from __future__ import annotations

import functools
import threading


class _GradState(threading.local):
    enabled = True  # the default in every thread


_state = _GradState()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (per thread, as in PyTorch)."""
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    """Switch graph recording on or off for the current thread."""
    _state.enabled = bool(mode)


class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager and a decorator."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None and callable(func):  # bare ``@no_grad`` decorator
            return self(func)
        return self

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc_info):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, func):
        mode_cls = type(self)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode_cls():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - torch's name
    """Record no graph inside the block: ``with trainkit.no_grad(): ...``.

    Use it for evaluation and for hand-written parameter updates, so that
    ``w -= lr * w.grad`` changes ``w`` in place instead of recording an op.
    Works as ``@no_grad()`` and ``@no_grad`` on functions too.
    """

    mode = False


class enable_grad(_GradMode):  # noqa: N801 - torch's name
    """Record the graph again inside a ``no_grad`` block."""

    mode = True
