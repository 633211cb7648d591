"""Take a Trainer's training state and put it back exactly: what ``lr_find`` (and any probe) leaves unchanged.

:class:`TrainingSnapshot` records, as copies: every parameter's and buffer's
values, gradients and ``requires_grad``, every module's train/eval mode, the
optimizer's state and param-group settings, the gradient transforms' state
and the global RNG state. :meth:`TrainingSnapshot.restore` writes the values
back into the arrays the tensors hold then (an element-wise optimizer that laid
its parameters out meanwhile keeps its flat buffers), reloads the optimizer
and resets each param group to exactly its saved settings (keys added since
are removed). Schedulers, plugins, counters and the loader are not touched by
a probe that does not call them, so they are not part of it.
"""
from __future__ import annotations

import copy

from . import random as tk_random
from .backend import get_array_module

__all__ = ["TrainingSnapshot"]


def _copy(array):
    return None if array is None else get_array_module(array).array(array, copy=True)


class TrainingSnapshot:
    """The state of ``trainer``'s model, optimizer, gradient transforms and RNG at construction."""

    def __init__(self, trainer):
        self.trainer = trainer
        model = trainer.model
        self.modes = [(m, m.training) for m in model.modules()]
        self.tensors = [(t, _copy(t.array)) for t in list(model.parameters()) + list(model.buffers())]
        self.grads = [(p, _copy(p.grad_array), p.requires_grad) for p in model.parameters()]
        opt = trainer.optimizer
        self.optimizer_state = opt.state_dict()
        self.group_settings = [copy.deepcopy({k: v for k, v in g.items() if k != "params"}) for g in opt.param_groups]
        self.transforms = [(t, t.state_dict() if hasattr(t, "state_dict") else None, getattr(t, "last_norm", None))
                           for t in trainer.grad_transforms]
        self.rng = tk_random.get_rng_state()

    def restore(self) -> None:
        """Put everything recorded back."""
        trainer = self.trainer
        for tensor, saved in self.tensors:
            if tensor.array.shape == saved.shape and tensor.array.dtype == saved.dtype:
                tensor.array[...] = saved
            else:
                tensor.array = saved
        for p, grad, requires_grad in self.grads:
            p.requires_grad = requires_grad
            p.grad_array = grad
        opt = trainer.optimizer
        opt.load_state_dict(self.optimizer_state)
        for group, settings in zip(opt.param_groups, self.group_settings):
            for key in [k for k in group if k != "params" and k not in settings]:
                del group[key]
            group.update(copy.deepcopy(settings))
        for t, state, last_norm in self.transforms:
            if state is not None:
                t.load_state_dict(state)
            if hasattr(t, "last_norm"):
                t.last_norm = last_norm
        for module, mode in self.modes:
            module.training = mode
        tk_random.set_rng_state(self.rng)
