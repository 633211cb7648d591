"""Lion (EvoLved Sign Momentum): Chen et al., "Symbolic Discovery of Optimization
Algorithms", 2023 (arXiv:2302.06675), Algorithm 2.

For each parameter, with gradient g and momentum m (initially 0)::

    c = beta1 * m + (1 - beta1) * g        # interpolate, then take the sign
    p = p - lr * (sign(c) + weight_decay * p)
    m = beta2 * m + (1 - beta2) * g        # the momentum tracks with beta2

The update has the same magnitude for every coordinate, so Lion wants a learning
rate 3-10x smaller than AdamW's and a weight decay 3-10x larger (the paper's advice).
"""
from __future__ import annotations

import trainkit
from trainkit.backend import get_array_module
from trainkit.optim import Optimizer


class Lion(Optimizer):
    """The Lion optimizer as a :class:`trainkit.optim.Optimizer` subclass.

    Args:
        params: Parameters, ``(name, Parameter)`` pairs or param-group dicts.
        lr: learning rate (default 1e-4).
        betas: ``(beta1, beta2)``: interpolation factor of the update direction
            and decay of the momentum (default (0.9, 0.99)).
        weight_decay: decoupled weight decay (default 0).
    """

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    def _validate(self, hp: dict) -> None:
        """Reject invalid hyperparameters, naming the argument (run for the defaults and every group)."""
        if not hp["lr"] >= 0.0:
            raise ValueError(f"Lion: invalid learning rate lr={hp['lr']!r} (must be >= 0)")
        betas = hp["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Lion: invalid betas={tuple(betas)!r} (two values in [0, 1))")
        if not hp["weight_decay"] >= 0.0:
            raise ValueError(f"Lion: invalid weight_decay={hp['weight_decay']!r} (must be >= 0)")

    def _state_shape_must_match(self, key: str) -> bool:
        return key == "exp_avg"  # checked when a checkpoint is loaded

    @trainkit.no_grad()
    def step(self, closure=None):
        """One Lion update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for j, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                xp = get_array_module(p.data)
                g = p.grad
                state = self._state.setdefault((gi, j), {"exp_avg": xp.zeros_like(p.data)})
                m = state["exp_avg"]
                if wd:
                    p.data *= 1.0 - lr * wd
                direction = xp.sign(beta1 * m + (1.0 - beta1) * g)
                p.data -= (lr * direction).astype(p.data.dtype, copy=False)
                m *= beta2
                m += (1.0 - beta2) * g
        return loss


@trainkit.hookimpl
def register_optimizers(register):
    """``optimizer=lion`` on the command line."""
    register("lion", Lion)
