"""Rprop (Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning", 1993).

Same arguments, defaults and numerics as ``torch.optim.Rprop`` (torch 2.13):
``step_size`` starts at the learning rate of the step that creates the state.
The sign logic is element-wise, so Rprop is a rule like the others.
"""
from __future__ import annotations

from ._checks import check_lr
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def rprop_update(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, one, zero):
    """torch's Rprop step after the shared prologue (maximize)."""
    prod = grad * prev
    factor = M.where(prod > zero, etaplus, M.where(prod < zero, etaminus, one))
    size = M.minimum(M.maximum(step_size * factor, step_size_min), step_size_max)
    grad = M.where(prod < zero, zero, grad)
    param = param - M.sign(grad) * size
    return param, grad, size


RULE = update_rule(rprop_update, state=("prev", "step_size"), prologue=("maximize",))


class Rprop(ElementwiseOptimizer):
    """Rprop. Args as torch: lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), capturable, foreach, maximize, ..."""

    rule = RULE

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False, fused=None):
        check_execution_flags("Rprop", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable, fused=fused))

    def _validate(self, hp):
        check_lr(hp)
        etaminus, etaplus = hp["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    def _init_state(self, group):
        return {"prev": 0.0, "step_size": float(group["lr"])}

    def _arguments(self, group, state, fresh):
        etaminus, etaplus = group["etas"]
        smin, smax = group["step_sizes"]
        scalars = dict(etaminus=etaminus, etaplus=etaplus, step_size_min=smin, step_size_max=smax,
                       one=1.0, zero=0.0)
        return scalars, dict(maximize=group["maximize"])
