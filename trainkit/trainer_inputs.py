"""What a Trainer is given, checked and arranged before the loop runs.

The Trainer calls these once, at construction and at the start of each fit:
counts are checked, the per-fit plugin
objects assembled (the default callbacks added), and each batch becomes a tuple
of tensors on the run's device.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .autograd.tensor import Tensor
from .backend import Device
from .plugins import plugin_name_of, registry

__all__ = ["batch_to_device", "check_count", "check_parts", "per_fit_plugins"]


def check_count(name: str, value, minimum: int, allow_none: bool = False):
    """``value`` when it is an int >= ``minimum`` (or None when allowed); TypeError/ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Trainer: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"Trainer: {name} must be >= {minimum}, got {value}")
    return value


def check_parts(loss, optimizer, accumulate: int, grad_transforms) -> bool:
    """Check the loss, optimizer and gradient transforms a Trainer is given; returns whether the
    optimizer must be stepped with a closure (``requires_closure``, as LBFGS)."""
    if not callable(loss):
        raise TypeError(f"Trainer: loss must be callable, got {type(loss).__name__}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError(
            f"Trainer: optimizer must be a trainkit.optim optimizer (step, param_groups), "
            f"got {type(optimizer).__name__}"
        )
    needs_closure = bool(getattr(optimizer, "requires_closure", False))
    if needs_closure and accumulate != 1:
        raise ValueError(
            f"Trainer: {type(optimizer).__name__} is stepped with a closure that re-evaluates one batch; "
            f"it cannot accumulate gradients (accumulate={accumulate}); use accumulate=1"
        )
    for i, t in enumerate(grad_transforms):
        if not callable(t):
            raise TypeError(f"Trainer: grad_transforms[{i}] ({type(t).__name__}) is not callable")
    return needs_closure


def per_fit_plugins(plugins: Iterable[Any], default_plugins, has_run_dir: bool) -> list[Any]:
    """The plugin objects of one fit: those given, plus a new instance of every registered callback
    marked ``default`` that was not given or left out (``default_plugins``: True, False, or names to
    leave out); callbacks that need a run directory only when there is one."""
    objects = list(plugins)
    if default_plugins is False:
        return objects
    leave_out = set() if default_plugins is True else set(default_plugins)
    given = {plugin_name_of(p) for p in objects}
    for name, cls in registry("callbacks").items():
        if not getattr(cls, "default", False) or name in given or name in leave_out:
            continue
        if getattr(cls, "needs_run_dir", False) and not has_run_dir:
            continue
        objects.append(cls())
    return objects


def batch_to_device(batch, device: Device) -> tuple:
    """A loader item ``(inputs..., target)`` as a tuple of tensors on ``device``."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            "Trainer: each batch must be a tuple (inputs..., target) of at least 2 items, "
            f"got {type(batch).__name__}"
        )
    out = []
    for item in batch:
        if not isinstance(item, Tensor):
            item = Tensor(item)
        if item.device != device:
            item = item.to(device)
        out.append(item)
    return tuple(out)
