"""Muon: momentum orthogonalised by Newton-Schulz (Jordan et al., 2024; Liu et al., "Muon is Scalable for LLM Training", 2025).

Same arguments, defaults and update as torch 2.13's ``torch.optim.Muon``, for
2-D parameters only. One deliberate difference: torch runs the Newton-Schulz
iteration in bfloat16; trainkit runs it in the parameter's dtype (numpy has no
bfloat16), so results are *more* precise than torch's and differ from them by
bfloat16 round-off (~1e-2 relative). The parity tests compare against torch's
algorithm with the iteration run in float64/float32 instead of bfloat16.
Array code (matrix products), not an element-wise rule.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ._lerp import lerp
from .optimizer import Optimizer

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps: int, eps: float):
    """Approximately orthogonalise the 2-D ``grad`` (quintic Newton-Schulz), in its own dtype."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    xp = get_array_module(grad)
    a, b, c = ns_coefficients
    x = grad.copy()
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    x = x / max(float(xp.linalg.norm(x)), eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        gram_update = b * gram + c * (gram @ gram)
        x = a * x + gram_update @ x
    return x.T if tall else x


def adjust_lr(lr: float, adjust_lr_fn, shape) -> float:
    """Muon's shape-dependent learning-rate scale ("original" or "match_rms_adamw")."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon. Args as torch: lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients, eps=1e-7, ns_steps=5, adjust_lr_fn=None."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for gi, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with size: "
                        f"{tuple(p.shape)} ({self.describe_param(gi, j)}); optimize it with AdamW instead"
                    )

    def _validate(self, hp):
        if not 0.0 <= hp["lr"]:
            raise ValueError(f"Learning rate should be >= 0 but is: {hp['lr']}")
        if not 0.0 <= hp["momentum"]:
            raise ValueError(f"momentum should be >= 0 but is: {hp['momentum']}")
        if not 0.0 <= hp["weight_decay"]:
            raise ValueError(f"weight decay should be >= 0 but is: {hp['weight_decay']}")
        if hp["adjust_lr_fn"] is not None and hp["adjust_lr_fn"] not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {hp['adjust_lr_fn']} is not supported")

    def _state_shape_must_match(self, key):
        return key == "momentum_buffer"

    def _required_state(self, group, param):
        return ("momentum_buffer",)

    def step(self, closure=None):
        """Perform a single optimization step."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
            for j, p in enumerate(group["params"]):
                if p.grad_array is None or not p.requires_grad:
                    continue
                xp = get_array_module(p.array)
                st = self.state_store.param_state(gi, j, p.array, lambda: {"momentum_buffer": xp.zeros_like(p.array)})
                grad = p.grad_array
                buf = st["momentum_buffer"]
                buf[...] = lerp(buf, grad, 1 - momentum)
                update = lerp(grad, buf, momentum) if group["nesterov"] else buf
                update = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
                adjusted = adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                p.array *= 1 - lr * wd
                p.array += (-adjusted) * update
        return loss
