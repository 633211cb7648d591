"""``AveragedModel``: a copy of a model whose weights are a running average (SWA) or an EMA of its weights.

torch.optim.swa_utils.AveragedModel's arguments, state dict (``n_averaged``,
``module.*``) and numerics: the first :meth:`~AveragedModel.update_parameters`
copies the model, every later one averages. With the built-in averages
(``multi_avg_fn`` from :func:`~.averaging.get_ema_multi_avg_fn` or
:func:`~.averaging.get_swa_multi_avg_fn`, or neither function given) the
floating point tensors of each dtype and device live in one flat buffer
(:class:`~.flat_average.FlatAverage`) and an update is one fused pass per
contiguous run of the model's arrays. Any other ``avg_fn``/``multi_avg_fn`` is
called as torch calls it, with Tensors sharing the averaged arrays.
"""
from __future__ import annotations

import copy

import numpy as np

from ...autograd import no_grad
from ...autograd.tensor import Tensor
from ...backend import device_of, to_device
from ...nn.module import Module
from .averaging import SWA_DIVIDE_RULE, MultiAverage, get_swa_multi_avg_fn, integer_update
from .flat_average import FlatAverage

__all__ = ["AveragedModel"]


def _tensors(module: Module, use_buffers: bool) -> list:
    tensors = list(module.parameters())
    return tensors + list(module.buffers()) if use_buffers else tensors


class AveragedModel(Module):
    """Averaged copy of ``model`` for Stochastic Weight Averaging (Izmailov et al., UAI 2018) and EMA.

    Args:
        model: the model to average (deep-copied).
        device: where to keep the averaged copy (default: the model's device).
        avg_fn: ``avg_fn(averaged, current, n_averaged) -> new`` per tensor.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, n_averaged)`` in place.
        use_buffers: average the buffers too (else they are copied from the model).

    Without ``avg_fn`` and ``multi_avg_fn`` the average is equal-weight (SWA):
    on the CPU ``avg + (cur - avg) / (n + 1)``, on a GPU ``lerp`` with the
    float32 weight ``1 / (n + 1)``, as torch computes them.
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        count = np.zeros((), dtype=np.int64)
        self.register_buffer("n_averaged", Tensor(to_device(count, device) if device is not None else count))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = bool(use_buffers)
        self._flat: dict = {}

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def __deepcopy__(self, memo):
        clone = AveragedModel.__new__(AveragedModel)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            object.__setattr__(clone, key, {} if key == "_flat" else copy.deepcopy(value, memo))
        return clone

    # ------------------------------------------------------------------ updating
    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current weights in (the first call copies them)."""
        with no_grad():
            own = _tensors(self.module, self.use_buffers)
            theirs = _tensors(model, self.use_buffers)
            pairs = list(zip(own, theirs))
            own = [a for a, _ in pairs]
            sources = [self._source(a, b) for a, b in pairs]
            n = int(self.n_averaged.data)
            if n == 0:
                self._copy(own, sources)
            elif self.multi_avg_fn is not None or self.avg_fn is None:
                for key, members in self._groups(own).items():
                    self._average_group(key, [own[i] for i in members], [sources[i] for i in members])
            else:
                for a, s in zip(own, sources):
                    new = self.avg_fn(a.detach(), Tensor._wrap(s), self.n_averaged)
                    a.data[...] = new.data if isinstance(new, Tensor) else new
            if not self.use_buffers:
                for b_own, b_model in zip(self.module.buffers(), model.buffers()):
                    b_own.data[...] = to_device(b_model.data, device_of(b_own.data))
            self.n_averaged.data[...] = self.n_averaged.data + 1

    @staticmethod
    def _source(averaged, current):
        data = current.data
        target = device_of(averaged.data)
        return data if device_of(data) == target else to_device(data, target)

    @staticmethod
    def _groups(tensors: list) -> dict:
        """(dtype, device) -> positions, in first-seen order (torch groups the same way)."""
        groups: dict = {}
        for i, t in enumerate(tensors):
            groups.setdefault((t.data.dtype, str(device_of(t.data))), []).append(i)
        return groups

    def _layout(self, key, tensors: list) -> FlatAverage:
        flat = self._flat.get(key)
        if flat is None or not flat.attached(tensors):
            flat = self._flat[key] = FlatAverage(tensors)
        return flat

    def _copy(self, own: list, sources: list) -> None:
        for key, members in self._groups(own).items():
            tensors = [own[i] for i in members]
            if key[0].kind == "f" and self._fused():
                self._layout(key, tensors).copy_from([self._cast(sources[i], key[0]) for i in members])
            else:
                for t, i in zip(tensors, members):
                    t.data[...] = sources[i]

    @staticmethod
    def _cast(array, dtype):
        return array if array.dtype == dtype else array.astype(dtype)

    def _fused(self) -> bool:
        return self.avg_fn is None and (self.multi_avg_fn is None or isinstance(self.multi_avg_fn, MultiAverage))

    def _average_group(self, key, tensors: list, sources: list) -> None:
        dtype, device = key
        fn = self.multi_avg_fn
        if not self._fused():
            fn([t.detach() for t in tensors], [Tensor._wrap(s) for s in sources], self.n_averaged)
            return
        if dtype.kind != "f":
            for t, s in zip(tensors, sources):
                integer_update(fn, t.data, s, self.n_averaged)
            return
        if fn is None and device == "cpu":
            rule, scalars, flags = SWA_DIVIDE_RULE, {"count": float(int(self.n_averaged.data) + 1)}, {}
        else:
            rule, scalars, flags = (fn or get_swa_multi_avg_fn()).arguments(self.n_averaged, dtype)
        self._layout(key, tensors).update([self._cast(s, dtype) for s in sources], rule, scalars, flags)
