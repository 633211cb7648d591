"""Adafactor (Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018).

Same arguments, defaults and numerics as torch 2.13's ``torch.optim.Adafactor``:
for parameters with two or more dimensions the second moment is factored into a
row and a column variance over the last two dimensions; vectors keep a full
``variance``. ``beta2_t = 1 - step ** beta2_decay``, relative step size
``rho_t = min(lr, 1/sqrt(step))``, update clipping by ``d``. Array code, not an
element-wise rule: the factored moment needs row/column reductions and the
update needs its RMS.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ._lerp import lerp
from .optimizer import Optimizer


def _initial_state(xp, grad, data) -> dict:
    """A parameter's first state: factored row/column variances for matrices, else a full one."""
    st = {"step": 0.0}
    if grad.ndim > 1:
        st["row_var"] = xp.zeros(grad.shape[:-1] + (1,), dtype=data.dtype)
        st["col_var"] = xp.zeros(grad.shape[:-2] + (1, grad.shape[-1]), dtype=data.dtype)
    else:
        st["variance"] = xp.zeros_like(data)
    return st


class Adafactor(Optimizer):
    """Adafactor. Args as torch: lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, foreach, maximize."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, foreach=foreach, maximize=maximize))

    def _validate(self, hp):
        if not 0.0 <= hp["lr"]:
            raise ValueError(f"Learning rate should be >= 0 but is: {hp['lr']}")
        if not 0.0 >= hp["beta2_decay"]:
            raise ValueError(f"beta2_decay should be <= 0 but is: {hp['beta2_decay']}")
        eps1, eps2 = hp["eps"]
        if eps1 is not None and not 0.0 <= eps1:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps1}")
        if not 0.0 <= eps2:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps2}")
        if not 1.0 <= hp["d"]:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {hp['d']}")
        if not 0.0 <= hp["weight_decay"]:
            raise ValueError(f"weight_decay should be >= 0 but is: {hp['weight_decay']}")

    @staticmethod
    def _state_shapes(shape) -> dict:
        """Shapes of the state arrays of a parameter of ``shape`` (factored for >= 2 dims)."""
        if len(shape) > 1:
            return {"row_var": shape[:-1] + (1,), "col_var": shape[:-2] + (1, shape[-1])}
        return {"variance": shape}

    def _required_state(self, group, param):
        return ("step",) + tuple(self._state_shapes(tuple(param.shape)))

    def _check_state(self, gi, j, entry, group=None, complete=True):
        p = self.param_groups[gi]["params"][j]
        problems = super()._check_state(gi, j, entry, group, complete)
        for key, want in self._state_shapes(tuple(p.shape)).items():
            if entry.get(key) is None:
                continue  # reported as missing (when complete) by the base class
            got = tuple(getattr(entry[key], "shape", ()))
            if got != want:
                problems.append(f"state {key!r} of {self.describe_param(gi, j)} has shape {got}, expected {want}")
        return problems

    def step(self, closure=None):
        """Perform a single optimization step."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            lr, d, wd = group["lr"], group["d"], group["weight_decay"]
            eps1, eps2 = group["eps"]
            for j, p in enumerate(group["params"]):
                if p.grad_array is None or not p.requires_grad:
                    continue
                xp = get_array_module(p.array)
                grad = -p.grad_array if group["maximize"] else p.grad_array
                st = self.state_store.param_state(gi, j, p.array, lambda: _initial_state(xp, grad, p.array))
                e1 = float(np.finfo(p.array.dtype).eps) if eps1 is None else eps1
                st["step"] += 1.0
                step = st["step"]
                one_minus_beta2_t = step ** group["beta2_decay"]
                rho_t = min(lr, 1 / (step**0.5))
                alpha = max(eps2, float(xp.linalg.norm(p.array.reshape(-1))) / (p.array.size**0.5)) * rho_t
                if wd != 0:
                    p.array *= 1 - lr * wd
                if grad.ndim > 1:
                    row_mean = xp.sqrt((grad * grad).sum(axis=-1, keepdims=True)) ** 2 / grad.shape[-1]
                    st["row_var"][...] = lerp(st["row_var"], row_mean, one_minus_beta2_t)
                    col_mean = xp.sqrt((grad * grad).sum(axis=-2, keepdims=True)) ** 2 / grad.shape[-2]
                    st["col_var"][...] = lerp(st["col_var"], col_mean, one_minus_beta2_t)
                    var_estimate = st["row_var"] @ st["col_var"]
                    row_var_mean = xp.maximum(st["row_var"].mean(axis=-2, keepdims=True), e1)
                    var_estimate = var_estimate / row_var_mean
                else:
                    st["variance"][...] = lerp(st["variance"], grad * grad, one_minus_beta2_t)
                    var_estimate = st["variance"].copy()
                update = 1 / xp.sqrt(xp.maximum(var_estimate, e1 * e1))
                update = update * grad
                denom = max(1.0, float(xp.linalg.norm(update.reshape(-1))) / ((update.size**0.5) * d))
                p.array += (-alpha / denom) * update
        return loss
