"""Adagrad (Duchi, Hazan & Singer, JMLR 2011).

Same arguments, defaults and numerics as ``torch.optim.Adagrad`` (torch 2.13):
``clr = lr / (1 + (step - 1) * lr_decay)``, the accumulator ``sum`` starts at
``initial_accumulator_value``. Dense gradients only (trainkit has no sparse tensors).

As in torch, ``sum`` starts at the *constructor's* ``initial_accumulator_value``
for every parameter (``optimizer.defaults``), also in a param group that sets
its own: torch fills the state from it and ignores a group's value (which
stays in the group, unused).
"""
from __future__ import annotations

from ._checks import check_eps, check_lr, check_weight_decay
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def adagrad_update(param, grad, sum, clr, eps):  # noqa: A002 - torch's state name
    """torch's Adagrad step after the shared prologue (maximize, L2 weight decay)."""
    s = sum + grad * grad
    std = M.sqrt(s) + eps
    param = param - clr * (grad / std)
    return param, s


RULE = update_rule(adagrad_update, state=("sum",), prologue=("maximize", "l2"))


class Adagrad(ElementwiseOptimizer):
    """Adagrad. Args as torch: lr=1e-2, lr_decay, weight_decay, initial_accumulator_value, eps=1e-10, ...

    ``initial_accumulator_value`` (the constructor's) starts the accumulator of
    every parameter; a param group's own ``initial_accumulator_value`` is
    ignored, exactly as torch ignores it.
    """

    rule = RULE

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_execution_flags("Adagrad", foreach, fused, differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      fused=fused))

    def _validate(self, hp):
        check_lr(hp)
        if not 0.0 <= hp["lr_decay"]:
            raise ValueError(f"Invalid lr_decay value: {hp['lr_decay']}")
        check_weight_decay(hp)
        if not 0.0 <= hp["initial_accumulator_value"]:
            raise ValueError(f"Invalid initial_accumulator_value value: {hp['initial_accumulator_value']}")
        check_eps(hp)

    def _init_state(self, group):
        # torch fills ``sum`` from the constructor's value for every group (a group's own is ignored)
        return {"sum": float(self.defaults["initial_accumulator_value"])}

    def _arguments(self, group, state, fresh):
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        scalars = dict(clr=clr, weight_decay=group["weight_decay"], eps=group["eps"])
        return scalars, dict(maximize=group["maximize"], l2=group["weight_decay"] != 0)
