"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize.

Same arguments, defaults and numerics as ``torch.optim.SGD`` (torch 2.13). The
momentum buffer starts as a copy of the first gradient, as in torch. Nesterov
momentum: Sutskever et al., "On the importance of initialization and momentum
in deep learning" (ICML 2013).
"""
from __future__ import annotations

from .elementwise import ElementwiseOptimizer, check_execution_flags
from .kernels.rule import update_rule
from .groups import required


def sgd_update(param, grad, momentum_buffer, lr, momentum, one_minus_dampening, *, use_momentum, first, nesterov):
    """torch's SGD step after the shared prologue (maximize, L2 weight decay)."""
    buf = momentum_buffer
    if use_momentum:
        if first:
            buf = grad
        else:
            buf = buf * momentum + one_minus_dampening * grad
        if nesterov:
            grad = grad + momentum * buf
        else:
            grad = buf
    param = param - lr * grad
    return param, buf


RULE = update_rule(
    sgd_update, state=("momentum_buffer",), optional=("momentum_buffer",),
    prologue=("maximize", "l2"),
)


class SGD(ElementwiseOptimizer):
    """Stochastic gradient descent (optionally with momentum).

    Args:
        params: Parameters, ``(name, Parameter)`` pairs or param-group dicts.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing.
        foreach, fused, differentiable: torch execution flags; see
            :mod:`trainkit.optim.elementwise` for how they map.
    """

    rule = RULE
    scalar_state = ()

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_execution_flags("SGD", foreach, fused, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _validate(self, hp):
        if hp["lr"] is not required and hp["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {hp['lr']}")
        if hp["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {hp['momentum']}")
        if hp["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {hp['weight_decay']}")
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _init_state(self, group):
        return {"momentum_buffer": 0.0 if group["momentum"] != 0 else None}

    # The scalar state's "momentum_buffer" is None until the parameter has a momentum buffer and
    # True after (its values live in the flat buffer). A parameter without one takes torch's first
    # step (buffer = gradient), also when momentum is switched on mid-run or the buffer was deleted.
    def _init_scalars(self, group):
        return {"momentum_buffer": None}

    def _required_state(self, group, param):
        return ()  # torch: a missing momentum buffer starts from the next gradient

    def _is_fresh(self, state, group):
        return group["momentum"] != 0 and state.get("momentum_buffer") is None

    def _mark_present(self, state, key):
        if key == "momentum_buffer":
            state[key] = True

    def _mark_absent(self, state, key):
        if key == "momentum_buffer":
            state[key] = None

    def _begin_step(self, state, group):
        pass

    def _end_step(self, state, group):
        if group["momentum"] != 0:
            state["momentum_buffer"] = True

    def _has_state(self, gi, j):
        # torch keeps no state for a parameter stepped without momentum (the internal entry
        # stays, so the short path applies); a buffer made earlier, or deleted by hand with
        # momentum on, still counts
        return self._state[(gi, j)].get("momentum_buffer") is not None or self.param_groups[gi]["momentum"] != 0

    def _export_state(self, gi, j, copy=True):
        if (gi, j) in self._state and not self._has_state(gi, j):
            return None
        out = super()._export_state(gi, j, copy)
        if out is not None and self._state[(gi, j)].get("momentum_buffer") is None:
            out["momentum_buffer"] = None
        return out

    def _import_state(self, gi, j, entry):
        super()._import_state(gi, j, entry)
        has_buffer = entry.get("momentum_buffer") is not None
        self._state[(gi, j)]["momentum_buffer"] = True if has_buffer else None

    def _arguments(self, group, state, fresh):
        scalars = dict(lr=group["lr"], weight_decay=group["weight_decay"], momentum=group["momentum"],
                       one_minus_dampening=1 - group["dampening"])
        flags = dict(maximize=group["maximize"], l2=group["weight_decay"] != 0,
                     use_momentum=group["momentum"] != 0, first=fresh, nesterov=group["nesterov"])
        return scalars, flags
