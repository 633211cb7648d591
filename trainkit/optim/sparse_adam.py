"""SparseAdam: Adam that updates only the rows a gradient touches.

``torch.optim.SparseAdam`` needs sparse gradients (e.g. ``nn.Embedding(sparse=True)``).
trainkit has no sparse tensors: a row-sparse gradient is the dense ``p.grad`` plus
``p.grad_indices``, the rows the sparse gradient holds (set by
``nn.Embedding(sparse=True)``). Those rows are updated even where their gradient
is zero, as torch does for the entries of a sparse gradient. Without
``grad_indices`` the rows whose gradient is not entirely zero are used.
Untouched rows keep their parameters and moments, as in torch.
Array code (row gather/scatter), not an element-wise rule: the row selection
is data dependent. Numerics follow torch 2.13's ``_functional.sparse_adam``.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ._checks import check_betas, check_eps, check_lr
from .optimizer import Optimizer


class SparseAdam(Optimizer):
    """SparseAdam. Args as torch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def _validate(self, hp):
        check_lr(hp)
        check_eps(hp)
        check_betas(hp)

    def _state_shape_must_match(self, key):
        return key in ("exp_avg", "exp_avg_sq")

    def _required_state(self, group, param):
        return ("step", "exp_avg", "exp_avg_sq")

    def step(self, closure=None):
        """Perform a single optimization step."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            beta1, beta2 = group["betas"]
            for j, p in enumerate(group["params"]):
                if p.grad_array is None or not p.requires_grad:
                    continue
                xp = get_array_module(p.array)
                st = self.state_store.param_state(
                    gi, j, p.array,
                    lambda: {"step": 0, "exp_avg": xp.zeros_like(p.array), "exp_avg_sq": xp.zeros_like(p.array)},
                )
                st["step"] += 1
                grad = -p.grad_array if group["maximize"] else p.grad_array
                rows2d = grad.reshape(grad.shape[0], -1) if grad.ndim else grad.reshape(1, 1)
                idx = getattr(p, "grad_indices", None)
                if idx is None or not grad.ndim:
                    idx = xp.nonzero(xp.any(rows2d != 0, axis=1))[0]
                else:
                    idx = xp.asarray(idx)
                if idx.size == 0:
                    continue
                data = p.array if p.array.ndim else p.array.reshape(1)
                gv, m, v = grad[idx] if grad.ndim else grad.reshape(1), st["exp_avg"], st["exp_avg_sq"]
                m, v = (m, v) if m.ndim else (m.reshape(1), v.reshape(1))
                old_m = m[idx]
                m_update = (gv - old_m) * (1 - beta1)
                m[idx] = old_m + m_update
                old_v = v[idx]
                v_update = (gv * gv - old_v) * (1 - beta2)
                v[idx] = old_v + v_update
                numer = m_update + old_m
                denom = xp.sqrt(v_update + old_v) + group["eps"]
                step = st["step"]
                step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
                data[idx] = data[idx] + (-step_size) * (numer / denom)
        return loss
