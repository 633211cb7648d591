"""RAdam (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020).

Same arguments, defaults and numerics as ``torch.optim.RAdam`` (torch 2.13):
the rectified update is used only while ``rho_t > 5``; before that the step is
``lr * m_hat`` (two kernel variants, chosen per step).
"""
from __future__ import annotations

from ._checks import check_adam_family
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def radam_update(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, bias_correction1, lr,
                 bias_correction2_sqrt, eps, rect, *, rectify):
    """torch's RAdam step after the shared prologue (maximize, decoupled or L2 weight decay)."""
    m = exp_avg + one_minus_beta1 * (grad - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
    corrected = m / bias_correction1
    if rectify:
        param = param - corrected * lr * (bias_correction2_sqrt / (M.sqrt(v) + eps)) * rect
    else:
        param = param - corrected * lr
    return param, m, v


RULE = update_rule(radam_update, state=("exp_avg", "exp_avg_sq"), prologue=("maximize", "l2", "decoupled"))


class RAdam(ElementwiseOptimizer):
    """RAdam. Args as torch: lr=1e-3, betas, eps, weight_decay, decoupled_weight_decay, ..."""

    rule = RULE

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        check_execution_flags("RAdam", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def _validate(self, hp):
        check_adam_family(hp)

    def _init_state(self, group):
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _arguments(self, group, state, fresh):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        step = state["step"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        rectify = rho_t > 5.0
        rect = (
            ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            if rectify else 1.0
        )
        decoupled = bool(group["decoupled_weight_decay"]) and wd != 0
        scalars = dict(
            weight_decay=wd, decay_factor=1 - lr * wd, one_minus_beta1=1 - beta1, beta2=beta2,
            one_minus_beta2=1 - beta2, bias_correction1=bias_correction1, lr=lr,
            bias_correction2_sqrt=bias_correction2**0.5, eps=group["eps"], rect=rect,
        )
        flags = dict(maximize=group["maximize"], l2=wd != 0 and not decoupled, decoupled=decoupled,
                     rectify=rectify)
        return scalars, flags
