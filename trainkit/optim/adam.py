"""Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015).

Same arguments, defaults and numerics as ``torch.optim.Adam`` (torch 2.13):
``step`` is a float, the bias corrections are computed in Python float64,
``eps`` is added after dividing ``sqrt(v)`` by ``sqrt(bias_correction2)``,
AMSGrad (Reddi et al., ICLR 2018) keeps the running maximum of ``v``, and
``decoupled_weight_decay=True`` is AdamW.
"""
from __future__ import annotations

from ._checks import check_adam_family
from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import M, update_rule


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2,
                bias_correction2_sqrt, eps, step_size, *, amsgrad):
    """torch's Adam step after the shared prologue (maximize, decoupled or L2 weight decay)."""
    m = exp_avg + one_minus_beta1 * (grad - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
    vmax = max_exp_avg_sq
    if amsgrad:
        vmax = M.maximum(vmax, v)
        denom = M.sqrt(vmax) / bias_correction2_sqrt + eps
    else:
        denom = M.sqrt(v) / bias_correction2_sqrt + eps
    param = param - step_size * (m / denom)
    return param, m, v, vmax


RULE = update_rule(
    adam_update, state=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), optional=("max_exp_avg_sq",),
    prologue=("maximize", "l2", "decoupled"),
)


class Adam(ElementwiseOptimizer):
    """Adam; see the module docstring.

    Args:
        params: Parameters, ``(name, Parameter)`` pairs or param-group dicts.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (or decoupled decay, see below; default 0).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective.
        decoupled_weight_decay: multiply the parameter by ``1 - lr * weight_decay``
            instead of adding the penalty to the gradient (AdamW).
        foreach, fused, capturable, differentiable: torch execution flags, see
            :mod:`trainkit.optim.elementwise`.
    """

    rule = RULE

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_execution_flags(type(self).__name__, foreach, fused, differentiable, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate(self, hp):
        check_adam_family(hp)

    def _init_state(self, group):
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0, "max_exp_avg_sq": 0.0 if group["amsgrad"] else None}

    def _arguments(self, group, state, fresh):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        step = state["step"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        decoupled = bool(group["decoupled_weight_decay"]) and wd != 0
        scalars = dict(
            weight_decay=wd, decay_factor=1 - lr * wd, one_minus_beta1=1 - beta1, beta2=beta2,
            one_minus_beta2=1 - beta2, bias_correction2_sqrt=bias_correction2**0.5, eps=group["eps"],
            step_size=lr / bias_correction1,
        )
        flags = dict(maximize=group["maximize"], l2=wd != 0 and not decoupled, decoupled=decoupled,
                     amsgrad=group["amsgrad"])
        return scalars, flags
