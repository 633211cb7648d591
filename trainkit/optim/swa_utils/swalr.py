"""``SWALR``: anneal each group's learning rate to a fixed ``swa_lr`` (torch.optim.swa_utils.SWALR).

The same recursive form as torch 2.13: each step interpolates between the
group's rate *before annealing* (recovered from its current lr) and
``swa_lr`` with ``alpha = anneal_func(t)``, ``t = step / anneal_epochs``
clipped to [0, 1]; ``anneal_func`` is ``(1 - cos(pi t)) / 2`` ("cos") or ``t``
("linear"). ``group["swa_lr"]`` is set on every param group.
"""
from __future__ import annotations

import math

from ..lr_scheduler.base import LRScheduler, check_optimizer, format_param

__all__ = ["SWALR"]


class SWALR(LRScheduler):
    """Anneal the lr of every param group to ``swa_lr`` over ``anneal_epochs`` steps, then keep it.

    Args:
        optimizer: wrapped optimizer.
        swa_lr: the final lr, one for all groups or a list with one per group.
        anneal_epochs: steps of the annealing phase (0: jump to ``swa_lr`` at the first step).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        last_epoch: index of the last epoch (-1 to start).
    """

    _state_keys = ("anneal_epochs", "_anneal_strategy")

    def __init__(self, optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        for value, group in zip(format_param("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
