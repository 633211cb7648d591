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

Every registered object is called as ``factory(optimizer, **options)``. The
one builder from a config (a name, options, ``interval``/``monitor``, children of
``sequential``/``chained`` given as ``{name: ..., **options}`` mappings) is
:func:`trainkit.compose.build_scheduler`.
"""
from __future__ import annotations

from ..hookspecs import hookimpl
from ..optim import lr_scheduler as lrs

__all__ = ["SCHEDULERS", "chained", "no_scheduler", "sequential"]


def no_scheduler(optimizer, **options):
    """``scheduler=none``: no learning-rate schedule (returns ``None``)."""
    if options:
        raise TypeError(f"scheduler 'none' takes no options, got {sorted(options)}")
    return None


def _children(schedulers) -> list:
    """The children of a composite, which must be built schedulers (mappings are built by compose)."""
    out = list(schedulers)
    for i, s in enumerate(out):
        if not hasattr(s, "step"):
            raise TypeError(
                f"schedulers[{i}] is a {type(s).__name__}, not a scheduler; build children from config "
                "mappings with trainkit.compose.build_scheduler({'name': ..., 'schedulers': [...]}, optimizer)"
            )
    return out


def sequential(optimizer, schedulers, milestones, last_epoch: int = -1):
    """``SequentialLR`` with the scheduler's optimizer passed first, as every registered factory."""
    return lrs.SequentialLR(optimizer, _children(schedulers), list(milestones), last_epoch)


def chained(optimizer, schedulers):
    """``ChainedScheduler`` with the optimizer passed first, as every registered factory."""
    return lrs.ChainedScheduler(_children(schedulers), optimizer=optimizer)


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


@hookimpl
def register_schedulers(register):
    """Register every name of :data:`SCHEDULERS`."""
    for name, factory in SCHEDULERS.items():
        register(name, factory)
