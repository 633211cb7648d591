"""Built-in learning-rate schedulers as a plugin, under the ``scheduler=`` names.

=====================  =====================================================
name                   object registered
=====================  =====================================================
step                   ``StepLR``
multistep              ``MultiStepLR``
exponential            ``ExponentialLR``
cosine                 ``CosineAnnealingLR``
cosine_warm_restarts   ``CosineAnnealingWarmRestarts``
cyclic                 ``CyclicLR`` (interval ``step``)
one_cycle              ``OneCycleLR`` (interval ``step``)
plateau                ``ReduceLROnPlateau`` (``monitor``, default ``val/loss``)
linear                 ``LinearLR``
constant               ``ConstantLR``
polynomial             ``PolynomialLR``
sequential             :func:`sequential` (children given as ``{name: ..., **kwargs}``)
chained                :func:`chained` (same)
warmup_cosine          ``WarmupCosineLR`` (interval ``step``)
warmup_linear          ``WarmupLinearLR`` (interval ``step``)
none                   :func:`no_scheduler`: returns ``None`` (no scheduling),
                       which is what ``Trainer(scheduler=None)`` accepts
=====================  =====================================================

Every registered object is called as ``factory(optimizer, **options)``.
:func:`build_scheduler` is the one entry point the Trainer and CLI use: it
resolves a name, pops the trainkit-only options ``interval`` (and ``monitor``
for plateau schedulers) and sets them on the instance.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..hookspecs import hookimpl
from ..optim import lr_scheduler as lrs

__all__ = ["SCHEDULERS", "build_scheduler", "chained", "no_scheduler", "sequential"]


def no_scheduler(optimizer, **options):
    """``scheduler=none``: no learning-rate schedule (returns ``None``)."""
    if options:
        raise TypeError(f"scheduler 'none' takes no options, got {sorted(options)}")
    return None


def _children(optimizer, schedulers) -> list:
    out = []
    for i, s in enumerate(schedulers):
        if isinstance(s, Mapping):
            spec = dict(s)
            if "name" not in spec:
                raise ValueError(
                    f"schedulers[{i}] must be a scheduler or a mapping with a `name` key, got keys {sorted(spec)}"
                )
            child = build_scheduler(spec.pop("name"), optimizer, **spec)
            if child is None:
                raise ValueError(f"schedulers[{i}] is 'none'; a composite needs real schedulers")
            out.append(child)
        else:
            out.append(s)
    return out


def sequential(optimizer, schedulers, milestones, last_epoch: int = -1):
    """``SequentialLR`` whose children may be given as ``{name: ..., **options}`` mappings."""
    return lrs.SequentialLR(optimizer, _children(optimizer, schedulers), list(milestones), last_epoch)


def chained(optimizer, schedulers):
    """``ChainedScheduler`` whose children may be given as ``{name: ..., **options}`` mappings."""
    return lrs.ChainedScheduler(_children(optimizer, schedulers), optimizer=optimizer)


#: ``scheduler=`` name -> factory ``(optimizer, **options)``.
SCHEDULERS = {
    "step": lrs.StepLR,
    "multistep": lrs.MultiStepLR,
    "exponential": lrs.ExponentialLR,
    "cosine": lrs.CosineAnnealingLR,
    "cosine_warm_restarts": lrs.CosineAnnealingWarmRestarts,
    "cyclic": lrs.CyclicLR,
    "one_cycle": lrs.OneCycleLR,
    "plateau": lrs.ReduceLROnPlateau,
    "linear": lrs.LinearLR,
    "constant": lrs.ConstantLR,
    "polynomial": lrs.PolynomialLR,
    "sequential": sequential,
    "chained": chained,
    "warmup_cosine": lrs.WarmupCosineLR,
    "warmup_linear": lrs.WarmupLinearLR,
    "none": no_scheduler,
}


def _lookup(name: str):
    try:
        from ..plugins import registry
    except ImportError:  # pragma: no cover - plugin manager not available
        registry = None
    if registry is not None:
        return registry("schedulers").get(name)
    if name not in SCHEDULERS:
        raise KeyError(f"unknown scheduler {name!r}; available: {', '.join(sorted(SCHEDULERS))}")
    return SCHEDULERS[name]


def build_scheduler(name_or_factory, optimizer, **options):
    """Build a scheduler from a registered name (or a factory) and config options.

    ``interval`` (``"epoch"``/``"step"``) overrides the scheduler's default;
    ``monitor`` is accepted for ``plateau`` only. Returns ``None`` for ``none``.
    """
    factory = _lookup(name_or_factory) if isinstance(name_or_factory, str) else name_or_factory
    interval = options.pop("interval", None)
    if interval is not None and interval not in lrs.base.INTERVALS:
        raise ValueError(f"scheduler interval must be one of {lrs.base.INTERVALS}, got {interval!r}")
    sched = factory(optimizer, **options)
    if sched is not None and interval is not None:
        sched.interval = interval
    return sched


@hookimpl
def register_schedulers(register):
    """Register every name of :data:`SCHEDULERS`."""
    for name, factory in SCHEDULERS.items():
        register(name, factory)
