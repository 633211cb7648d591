"""Adamax: Adam with the infinity norm (Kingma & Ba, ICLR 2015, section 7).

Same arguments, defaults and numerics as ``torch.optim.Adamax`` (torch 2.13).
"""
from __future__ import annotations

from ._checks import check_adam_family
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def adamax_update(param, grad, exp_avg, exp_inf, one_minus_beta1, beta2, eps, clr):
    """torch's Adamax step after the shared prologue (maximize, L2 weight decay)."""
    m = exp_avg + one_minus_beta1 * (grad - exp_avg)
    u = M.maximum(exp_inf * beta2, M.abs(grad) + eps)
    param = param - clr * (m / u)
    return param, m, u


RULE = update_rule(adamax_update, state=("exp_avg", "exp_inf"), prologue=("maximize", "l2"))


class Adamax(ElementwiseOptimizer):
    """Adamax. Args as torch: lr=2e-3, betas, eps, weight_decay, foreach, maximize, differentiable, capturable."""

    rule = RULE

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False, fused=None):
        check_execution_flags("Adamax", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable, fused=fused))

    def _validate(self, hp):
        check_adam_family(hp)

    def _init_state(self, group):
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _arguments(self, group, state, fresh):
        beta1, beta2 = group["betas"]
        clr = group["lr"] / (1 - beta1 ** state["step"])
        scalars = dict(weight_decay=group["weight_decay"], one_minus_beta1=1 - beta1, beta2=beta2,
                       eps=group["eps"], clr=clr)
        return scalars, dict(maximize=group["maximize"], l2=group["weight_decay"] != 0)
