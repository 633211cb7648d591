"""Config composites users otherwise hand-roll: linear warmup, then cosine or linear decay.

Written as a pure function ``factor(step)`` (``lr = initial_lr * factor``),
which makes them continuous at the phase boundary by construction: the warmup
ends at factor 1 exactly where the decay starts at factor 1.

Durations are steps (int) or a fraction of the run (float in [0, 1), e.g.
``warmup=0.05`` of ``total_steps``). Their ``interval`` is ``"step"``.
"""
from __future__ import annotations

import math

from .base import LRScheduler


def resolve_steps(name: str, value, total_steps: int) -> int:
    """An int number of steps, or a float fraction of ``total_steps`` rounded to steps."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int number of steps or a float fraction, got {value!r}")
    if isinstance(value, int):
        if value < 0 or value > total_steps:
            raise ValueError(f"{name}={value} steps must be between 0 and total_steps={total_steps}")
        return value
    if isinstance(value, float):
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"{name}={value} as a fraction of the run must be in [0, 1); "
                "give an int for a number of steps"
            )
        return int(round(value * total_steps))
    raise TypeError(f"{name} must be an int number of steps or a float fraction, got {type(value).__name__}")


class _WarmupDecay(LRScheduler):
    """Linear warmup from ``warmup_start_factor`` to 1, then a decay to ``eta_min``."""

    interval = "step"
    _state_keys = ("total_steps", "warmup_steps", "warmup_start_factor", "eta_min")

    def __init__(
        self,
        optimizer,
        total_steps: int,
        warmup=0,
        warmup_start_factor: float = 0.0,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not 0.0 <= warmup_start_factor <= 1.0:
            raise ValueError(f"warmup_start_factor must be in [0, 1], got {warmup_start_factor}")
        if eta_min < 0:
            raise ValueError(f"eta_min must be >= 0, got {eta_min}")
        self.total_steps = total_steps
        self.warmup_steps = resolve_steps("warmup", warmup, total_steps)
        self.warmup_start_factor = float(warmup_start_factor)
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _decay(self, progress: float) -> float:
        """Decay factor in [0, 1] at ``progress`` in [0, 1] (1 at 0)."""
        raise NotImplementedError

    def factor_at(self, step: int) -> float:
        """The warmup factor during warmup; the decay position after (clamped at the end)."""
        w, T = self.warmup_steps, self.total_steps
        if step < w:
            return self.warmup_start_factor + (1.0 - self.warmup_start_factor) * step / w
        if T == w:
            return 1.0
        return self._decay(min(1.0, (step - w) / (T - w)))

    def get_lr(self):
        step = self.last_epoch
        w = self.warmup_steps
        out = []
        for base in self.base_lrs:
            if step < w:
                out.append(base * self.factor_at(step))
            else:  # decay from base to eta_min
                d = self.factor_at(step)
                out.append(self.eta_min + (base - self.eta_min) * d)
        return out

    _get_closed_form_lr = get_lr


class WarmupCosineLR(_WarmupDecay):
    """Linear warmup over ``warmup`` steps, then cosine annealing to ``eta_min`` at ``total_steps``.

    Args:
        optimizer: wrapped optimizer.
        total_steps: length of the run in steps (warmup included).
        warmup: warmup steps (int) or fraction of ``total_steps`` (float in [0, 1)).
        warmup_start_factor: lr factor at step 0 (0.0: start from zero, as
            Hugging Face's ``get_cosine_schedule_with_warmup``).
        eta_min: final learning rate.
        last_epoch: index of the last step (-1 to start).

    >>> # WarmupCosineLR(opt, total_steps=1000, warmup=0.05): 50 warmup steps, then cosine
    """

    def _decay(self, progress: float) -> float:
        return (1.0 + math.cos(math.pi * progress)) / 2.0


class WarmupLinearLR(_WarmupDecay):
    """Linear warmup over ``warmup`` steps, then a linear decay to ``eta_min`` at ``total_steps``.

    Same arguments as :class:`WarmupCosineLR`.
    """

    def _decay(self, progress: float) -> float:
        return 1.0 - progress
