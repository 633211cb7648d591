"""Schedulers driven by user functions: ``LambdaLR`` and ``MultiplicativeLR``."""
from __future__ import annotations

import types

from .base import LRScheduler, group_values, plain


def _lambdas(optimizer, lr_lambda) -> list:
    n = len(optimizer.param_groups)
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != n:
            raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
        fns = list(lr_lambda)
    else:
        fns = [lr_lambda] * n
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
    return fns


class _LambdaState:
    """state_dict/load_state_dict shared by the two lambda schedulers.

    Like torch, plain functions and lambdas are never saved (their slot is
    ``None``); a callable *object* has its ``__dict__`` saved and restored.
    """

    lr_lambdas: list

    def follow_new_group(self, group: dict) -> None:
        """A group added later gets the last group's function (and its lr as base lr)."""
        self.lr_lambdas.append(self.lr_lambdas[-1])
        LRScheduler.follow_new_group(self, group)

    def state_dict(self):
        state = LRScheduler.state_dict(self)
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else plain(dict(fn.__dict__))
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        LRScheduler.load_state_dict(self, state)
        for fn, fn_state in zip(self.lr_lambdas, saved):
            if fn_state is not None:
                fn.__dict__.update(fn_state)


class LambdaLR(_LambdaState, LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)`` for each group.

    Args:
        optimizer: wrapped optimizer.
        lr_lambda: a function of the integer epoch returning a factor, or a
            list of such functions, one per param group.
        last_epoch: index of the last epoch (-1 to start).

    >>> # sched = LambdaLR(opt, lambda epoch: 0.95 ** epoch)
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """``lr = lr * lr_lambda(epoch)`` each step after the first (chainable)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)
        ]
