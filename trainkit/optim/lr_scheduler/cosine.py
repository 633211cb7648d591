"""Cosine schedules: ``CosineAnnealingLR`` and ``CosineAnnealingWarmRestarts`` (SGDR).

Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (ICLR 2017).
"""
from __future__ import annotations

import math

from .base import LRScheduler, cos_factor, group_values


class CosineAnnealingLR(LRScheduler):
    """Anneal the lr from its initial value to ``eta_min`` over ``T_max`` steps along a cosine.

    The recursive form (torch's) keeps going past ``T_max``: the lr climbs
    back up over the next ``T_max`` steps, a period of ``2 * T_max``.

    Args:
        optimizer: wrapped optimizer.
        T_max: number of steps of a half period.
        eta_min: minimum learning rate (default 0).
        last_epoch: index of the last epoch (-1 to start).
    """

    _state_keys = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, m = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and t > 0:
            return [m + (b - m) * cos_factor(t, T) for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                g["lr"] + (b - m) * (1 - math.cos(math.pi / T)) / 2
                for b, g in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (g["lr"] - m) + m for g in groups]

    def _get_closed_form_lr(self):
        m = self.eta_min
        return [m + (b - m) * cos_factor(self.last_epoch, self.T_max) for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every ``T_i`` epochs, with ``T_i`` growing by ``T_mult``.

    ``step()`` advances one epoch; ``step(epoch)`` accepts a fractional epoch
    (e.g. ``epoch + batch_idx / iters``) to anneal within an epoch, as in torch.
    ``T_cur`` is the position inside the current period.

    Args:
        optimizer: wrapped optimizer.
        T_0: length of the first period (positive int).
        T_mult: period growth factor after each restart (int >= 1).
        eta_min: minimum learning rate.
        last_epoch: index of the last epoch (-1 to start).
    """

    _state_keys = ("T_0", "T_i", "T_mult", "eta_min", "T_cur")

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if not isinstance(T_0, int) or isinstance(T_0, bool) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if not isinstance(T_mult, int) or isinstance(T_mult, bool) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if isinstance(eta_min, bool) or not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        m = self.eta_min
        return [m + (b - m) * cos_factor(self.T_cur, self.T_i) for b in self.base_lrs]

    def step(self, epoch=None) -> None:
        """Advance one epoch, or jump to (possibly fractional) ``epoch``.

        Like torch, this override neither warns about ``epoch`` nor counts steps.
        """
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")
