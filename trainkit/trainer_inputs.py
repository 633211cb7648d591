"""What a Trainer is given, checked and arranged before the loop runs.

The Trainer calls these once, at construction and at the start of each fit:
counts are checked, schedulers sorted by when they step, the per-fit plugin
objects assembled (the default callbacks added), and each batch becomes a tuple
of tensors on the run's device.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .autograd.tensor import Tensor
from .backend import Device
from .plugins import plugin_name_of, registry

__all__ = ["batch_to_device", "check_count", "per_fit_plugins", "sort_schedulers"]


def check_count(name: str, value, minimum: int, allow_none: bool = False):
    """``value`` when it is an int >= ``minimum`` (or None when allowed); TypeError/ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Trainer: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"Trainer: {name} must be >= {minimum}, got {value}")
    return value


def sort_schedulers(scheduler) -> tuple[list, list, list, list]:
    """``(all, per step, per epoch, plateau)`` of one scheduler, a list of them, or None.

    A scheduler with ``.monitor`` (plateau) steps after validation; others by
    their ``.interval`` (``"step"`` or ``"epoch"``, the default).
    """
    schedulers = [] if scheduler is None else list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]
    step, epoch, plateau = [], [], []
    for i, sched in enumerate(schedulers):
        interval = getattr(sched, "interval", "epoch")
        if hasattr(sched, "monitor"):
            plateau.append(sched)
        elif interval == "step":
            step.append(sched)
        elif interval == "epoch":
            epoch.append(sched)
        else:
            raise ValueError(
                f"Trainer: scheduler {i} ({type(sched).__name__}) has interval={interval!r}; "
                "expected 'epoch' or 'step'"
            )
    return schedulers, step, epoch, plateau


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
