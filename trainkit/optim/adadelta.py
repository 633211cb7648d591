"""Adadelta (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012).

Same arguments, defaults and numerics as ``torch.optim.Adadelta`` (torch 2.13).
"""
from __future__ import annotations

from ._checks import check_eps, check_lr, check_weight_decay
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def adadelta_update(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps):
    """torch's Adadelta step after the shared prologue (maximize, L2 weight decay)."""
    sq = square_avg * rho + one_minus_rho * grad * grad
    std = M.sqrt(sq + eps)
    delta = M.sqrt(acc_delta + eps) / std * grad
    acc = acc_delta * rho + one_minus_rho * delta * delta
    param = param - lr * delta
    return param, sq, acc


RULE = update_rule(adadelta_update, state=("square_avg", "acc_delta"), prologue=("maximize", "l2"))


class Adadelta(ElementwiseOptimizer):
    """Adadelta. Args as torch: lr=1.0, rho=0.9, eps=1e-6, weight_decay, foreach, capturable, maximize, differentiable."""

    rule = RULE

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False, fused=None):
        check_execution_flags("Adadelta", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      capturable=capturable, maximize=maximize,
                                      differentiable=differentiable, fused=fused))

    def _validate(self, hp):
        check_lr(hp)
        if not 0.0 <= hp["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {hp['rho']}")
        check_eps(hp)
        check_weight_decay(hp)

    def _init_state(self, group):
        return {"square_avg": 0.0, "acc_delta": 0.0}

    def _arguments(self, group, state, fresh):
        rho = group["rho"]
        scalars = dict(lr=group["lr"], weight_decay=group["weight_decay"], rho=rho, one_minus_rho=1 - rho,
                       eps=group["eps"])
        return scalars, dict(maximize=group["maximize"], l2=group["weight_decay"] != 0)
