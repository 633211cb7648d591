"""Averaged SGD (Polyak & Juditsky, SIAM J. Control Optim. 1992).

Same arguments, defaults and numerics as ``torch.optim.ASGD`` (torch 2.13):
per-parameter scalars ``eta`` (starts at ``lr``) and ``mu`` (starts at 1) are
updated after each step from the step count; ``ax`` holds the average.

``eta`` and ``mu`` are kept as torch keeps them, in its scalar dtype (float32,
the default dtype; see :mod:`.scalar_state`): each new value is computed in
Python float64 and rounded to float32, ``eta`` starts at float32(``lr``). So
float64 parameters carry the same float32 round-off in these scalars as
torch's, and the trajectories agree to float64 round-off.
"""
from __future__ import annotations

from ._checks import check_lr, check_weight_decay
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import update_rule
from .scalar_state import stored


def asgd_update(param, grad, ax, decay_factor, eta, mu, *, average):
    """torch's ASGD step after the shared prologue (maximize, L2 weight decay)."""
    param = param * decay_factor
    param = param - eta * grad
    if average:
        a = ax + (param - ax) * mu
    else:
        a = param
    return param, a


RULE = update_rule(asgd_update, state=("ax",), prologue=("maximize", "l2"))


class ASGD(ElementwiseOptimizer):
    """ASGD. Args as torch: lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay, foreach, maximize, ..."""

    rule = RULE
    scalar_state = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False, fused=None):
        check_execution_flags("ASGD", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable, fused=fused))

    def _validate(self, hp):
        check_lr(hp)
        check_weight_decay(hp)

    def _init_state(self, group):
        return {"ax": 0.0}

    def _init_scalars(self, group):
        return {"step": 0.0, "eta": stored(group["lr"]), "mu": 1.0}

    def _arguments(self, group, state, fresh):
        eta = state["eta"]
        scalars = dict(weight_decay=group["weight_decay"], decay_factor=1 - group["lambd"] * eta, eta=eta,
                       mu=state["mu"])
        flags = dict(maximize=group["maximize"], l2=group["weight_decay"] != 0, average=state["mu"] != 1)
        return scalars, flags

    def _end_step(self, state, group):
        lr, step = group["lr"], state["step"]
        state["eta"] = stored(lr / ((1 + group["lambd"] * lr * step) ** group["alpha"]))
        state["mu"] = stored(1 / max(1, step - group["t0"]))
