"""``optimizer`` and ``scheduler`` configs -> the optimizer over the param groups, and its scheduler.

The run's learning rate has one source: what the optimizer was built with
(``optimizer.lr``, which defaults to the top-level ``lr``; null keeps the
optimizer's own default). The param groups take it as their base
(:mod:`trainkit.compose.groups`) and a scheduler's required ``max_lr`` (one_cycle,
also inside sequential/chained) defaults to it here.
"""
from __future__ import annotations

import inspect
import logging
import math

from omegaconf import OmegaConf

from ..config.schema import ConfigError
from .values import call_kwargs, lookup, signature

__all__ = ["build_optimizer", "build_scheduler", "optimizer_lr", "run_steps", "updates_per_epoch"]

log = logging.getLogger("trainkit.compose")


def build_optimizer(node, params):
    """Construct the optimizer of ``node`` over ``params`` (parameters or torch-style groups).

    ``lr: null`` means the optimizer's own default learning rate.
    """
    cls = lookup("optimizers", "optimizer", node.get("name"))
    kwargs = call_kwargs("optimizer", node, cls, skip_first=True)
    if "lr" in kwargs and kwargs["lr"] is None:
        del kwargs["lr"]
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer={node.get('name')}: {exc}") from exc


def optimizer_lr(optimizer) -> float | None:
    """The learning rate the optimizer was built with (its ``defaults["lr"]``)."""
    lr = getattr(optimizer, "defaults", {}).get("lr")
    return None if lr is None else float(lr)


def run_steps(steps_per_epoch: int, max_epochs: int, max_steps=None) -> int:
    """Optimizer updates in a run: ``max_steps`` when set, else updates per epoch x epochs."""
    return int(max_steps) if max_steps else int(steps_per_epoch * max_epochs)


def updates_per_epoch(batches: int, accumulate: int) -> int:
    """Optimizer updates per epoch: the Trainer also applies a last, partial accumulation cycle."""
    return max(1, math.ceil(batches / max(1, int(accumulate))))


def _fill_run_values(factory, kwargs: dict, total: int, unit: str, section: str, links: dict) -> dict:
    """Fill what the run decides into a scheduler's arguments.

    * ``total_steps`` (OneCycleLR, warmup_cosine, warmup_linear, any factory
      with that parameter) left null: the run's length, ``total`` (in updates,
      or epochs for ``interval=epoch``). A user-set value shorter than the run
      is warned about (the schedule would end, or raise, before the run does).
    * Required ``T_max``/``max_lr`` left out or null (children of
      ``sequential``/``chained``): ``trainer.max_epochs`` and the optimizer's lr.
    """
    sig = signature(factory)
    if sig is None:
        return kwargs
    names = sig.parameters
    if "total_steps" in names:
        if all(kwargs.get(k) is None for k in ("total_steps", "epochs", "steps_per_epoch")):
            kwargs["total_steps"] = total
        elif kwargs.get("total_steps") is not None and int(kwargs["total_steps"]) < total:
            log.warning("%s.total_steps=%s is shorter than the run (%d %s); leave it null to use the run's length",
                        section, kwargs["total_steps"], total, unit)
    if "milestones" in names and kwargs.get("milestones") is not None:
        _check_milestones(section, kwargs["milestones"], total, unit)
    for key, value in links.items():
        param = names.get(key)
        if param is not None and param.default is inspect.Parameter.empty and kwargs.get(key) is None \
                and value is not None:
            kwargs[key] = value
    return kwargs


def _check_milestones(section: str, milestones, total: int, unit: str) -> None:
    """Milestones are whole epochs/steps >= 0 (``int(0.5)`` would decay at construction); those the run
    never reaches are warned about."""
    values = list(milestones) if isinstance(milestones, (list, tuple)) else [milestones]
    for i, m in enumerate(values):
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise ConfigError(
                f"{section}.milestones[{i}]={m!r} is not valid: milestones are whole {unit} >= 0, e.g. [30, 80]"
            )
    late = [m for m in values if m >= total]
    if late:
        log.warning("%s.milestones %s are at or past the end of the run (%d %s): the lr never decays there",
                    section, late, total, unit)


def build_scheduler(node, optimizer, *, steps_per_epoch: int = 1, max_epochs: int = 1, max_steps=None,
                    section="scheduler"):
    """Construct the scheduler of ``node`` (None for ``scheduler=none``): the one builder of schedulers.

    ``node`` is a config node or a plain mapping with a ``name``. ``schedulers``
    lists (SequentialLR, ChainedScheduler) are built recursively from nodes with
    a ``name``; their children get the same defaults as the top level (``T_max`` =
    ``max_epochs``, ``max_lr`` = the optimizer's lr, ``total_steps`` = the run's
    length). ``interval``/``monitor`` set on the node override the scheduler's own
    attributes.
    """
    node = node if OmegaConf.is_config(node) else OmegaConf.create(dict(node))
    name = node.get("name")
    factory = lookup("schedulers", section, name)
    kwargs = call_kwargs(section, node, factory, skip_first=True)
    if isinstance(kwargs.get("schedulers"), (list, tuple)):
        built = []
        for i, sub in enumerate(kwargs["schedulers"]):
            if not isinstance(sub, dict) or "name" not in sub:
                raise ConfigError(f"{section}.schedulers[{i}] must be a mapping with a 'name', got {sub!r}")
            child = build_scheduler(sub, optimizer, steps_per_epoch=steps_per_epoch, max_epochs=max_epochs,
                                    max_steps=max_steps, section=f"{section}.schedulers[{i}]")
            if child is None:
                raise ConfigError(f"{section}.schedulers[{i}] is 'none'; a composite needs real schedulers")
            built.append(child)
        kwargs["schedulers"] = built
    interval = node.get("interval") if "interval" in node else None
    if interval is not None and interval not in ("step", "epoch"):
        raise ConfigError(f"{section}.interval={interval!r} is not valid; use 'step' or 'epoch'")
    total = int(max_epochs) if interval == "epoch" else run_steps(steps_per_epoch, max_epochs, max_steps)
    links = {"T_max": int(max_epochs), "max_lr": optimizer_lr(optimizer)}
    kwargs = _fill_run_values(factory, kwargs, total, "epochs" if interval == "epoch" else "updates",
                              section, links)
    try:
        scheduler = factory(optimizer, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}={name}: {exc}") from exc
    if scheduler is None:
        return None
    for attr in ("interval", "monitor"):
        value = node.get(attr) if attr in node else None
        if value is not None:
            setattr(scheduler, attr, value)
    return scheduler
