"""RMSprop (Hinton, Coursera lecture 6e; centered variant: Graves, 2013).

Same arguments, defaults and numerics as ``torch.optim.RMSprop`` (torch 2.13).
"""
from __future__ import annotations

from ._checks import check_eps, check_lr, check_weight_decay
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, one_minus_alpha, eps, momentum,
                   *, centered, use_momentum):
    """torch's RMSprop step after the shared prologue (maximize, L2 weight decay)."""
    sq = square_avg * alpha + one_minus_alpha * grad * grad
    ga = grad_avg
    if centered:
        ga = grad_avg + one_minus_alpha * (grad - grad_avg)
        avg = M.sqrt(sq - ga * ga) + eps
    else:
        avg = M.sqrt(sq) + eps
    buf = momentum_buffer
    if use_momentum:
        buf = buf * momentum + grad / avg
        param = param - lr * buf
    else:
        param = param - lr * (grad / avg)
    return param, sq, ga, buf


RULE = update_rule(
    rmsprop_update, state=("square_avg", "grad_avg", "momentum_buffer"), optional=("grad_avg", "momentum_buffer"),
    prologue=("maximize", "l2"),
)


class RMSprop(ElementwiseOptimizer):
    """RMSprop. Args as torch: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay, momentum, centered, ..."""

    rule = RULE

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False, fused=None):
        check_execution_flags("RMSprop", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, capturable=capturable,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      fused=fused))

    def _validate(self, hp):
        check_lr(hp)
        check_eps(hp)
        if not 0.0 <= hp["momentum"]:
            raise ValueError(f"Invalid momentum value: {hp['momentum']}")
        check_weight_decay(hp)
        if not 0.0 <= hp["alpha"]:
            raise ValueError(f"Invalid alpha value: {hp['alpha']}")

    def _init_state(self, group):
        return {"square_avg": 0.0, "grad_avg": 0.0 if group["centered"] else None,
                "momentum_buffer": 0.0 if group["momentum"] > 0 else None}

    def _arguments(self, group, state, fresh):
        alpha = group["alpha"]
        scalars = dict(lr=group["lr"], weight_decay=group["weight_decay"], alpha=alpha,
                       one_minus_alpha=1 - alpha, eps=group["eps"], momentum=group["momentum"])
        flags = dict(maximize=group["maximize"], l2=group["weight_decay"] != 0,
                     centered=group["centered"], use_momentum=group["momentum"] > 0)
        return scalars, flags
