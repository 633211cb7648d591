"""NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop).

Same arguments, defaults and numerics as ``torch.optim.NAdam`` (torch 2.13):
momentum schedule ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``,
per-parameter ``mu_product``, optional decoupled weight decay (NAdamW).

``mu_product`` is kept as torch keeps it, in its scalar dtype (float32, the
default dtype; see :mod:`.scalar_state`): ``mu_product *= mu_t`` is a float32
product, while ``mu_t``, ``mu_{t+1}`` and the step coefficients are Python
float64, as in torch. So float64 parameters carry the same float32 round-off
in the momentum schedule as torch's, and the trajectories agree to float64
round-off.
"""
from __future__ import annotations

from ._checks import check_adam_family
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule
from .scalar_state import stored_product


def nadam_update(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                 coef_grad, coef_avg):
    """torch's NAdam step after the shared prologue (maximize, decoupled or L2 weight decay)."""
    m = exp_avg + one_minus_beta1 * (grad - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
    denom = M.sqrt(v / bias_correction2) + eps
    param = param + coef_grad * (grad / denom)
    param = param + coef_avg * (m / denom)
    return param, m, v


RULE = update_rule(nadam_update, state=("exp_avg", "exp_avg_sq"), prologue=("maximize", "l2", "decoupled"))


class NAdam(ElementwiseOptimizer):
    """NAdam. Args as torch: lr=2e-3, betas, eps, weight_decay, momentum_decay=4e-3, decoupled_weight_decay, ..."""

    rule = RULE
    scalar_state = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        check_execution_flags("NAdam", foreach, fused, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def _validate(self, hp):
        check_adam_family(hp)
        if not 0.0 <= hp["momentum_decay"]:
            raise ValueError(f"Invalid momentum_decay value: {hp['momentum_decay']}")

    def _init_state(self, group):
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _init_scalars(self, group):
        return {"step": 0.0, "mu_product": 1.0}

    def _begin_step(self, state, group):
        state["step"] += 1.0
        beta1 = group["betas"][0]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (state["step"] * group["momentum_decay"])))
        state["mu_product"] = stored_product(state["mu_product"], mu)

    def _segment_key(self, state):
        # mu_product was already advanced in _begin_step; equal steps imply equal products
        return (state["step"], state["mu_product"])

    def _arguments(self, group, state, fresh):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        step, md = state["step"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
        mu_product = state["mu_product"]
        mu_product_next = mu_product * mu_next
        decoupled = bool(group["decoupled_weight_decay"]) and wd != 0
        scalars = dict(
            weight_decay=wd, decay_factor=1 - lr * wd, one_minus_beta1=1 - beta1, beta2=beta2,
            one_minus_beta2=1 - beta2, bias_correction2=1 - beta2**step, eps=group["eps"],
            coef_grad=-lr * (1.0 - mu) / (1.0 - mu_product),
            coef_avg=(-lr * mu_next) / (1.0 - mu_product_next),
        )
        flags = dict(maximize=group["maximize"], l2=wd != 0 and not decoupled, decoupled=decoupled)
        return scalars, flags
