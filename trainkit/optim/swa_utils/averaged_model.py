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


def _walk(module: Module) -> tuple[list, list]:
    """``(parameters, buffers)`` in ``module.parameters()``/``module.buffers()`` order, in one pass
    (without building the dotted names: an update of a 1,000-layer model walks it twice)."""
    params, buffers, seen_params, seen_modules = [], [], set(), set()
    stack = [module]
    while stack:
        m = stack.pop()
        if id(m) in seen_modules:
            continue
        seen_modules.add(id(m))
        d = m.__dict__
        for p in d["_parameters"].values():
            if p is not None and id(p) not in seen_params:
                seen_params.add(id(p))
                params.append(p)
        buffers.extend([b for b in d["_buffers"].values() if b is not None])
        stack.extend(reversed([c for c in d["_modules"].values() if c is not None]))
    return params, buffers


def _tensors(module: Module, use_buffers: bool) -> tuple[list, list]:
    """The tensors averaged (parameters, and buffers with ``use_buffers``) and the buffers."""
    params, buffers = _walk(module)
    return (params + buffers if use_buffers else params), buffers


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
        self._plan: tuple | None = None  # see _prepare

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def __deepcopy__(self, memo):
        clone = AveragedModel.__new__(AveragedModel)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            fresh = {"_flat": {}, "_plan": None}
            object.__setattr__(clone, key, fresh[key] if key in fresh else copy.deepcopy(value, memo))
        return clone

    # ------------------------------------------------------------------ updating
    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current weights in (the first call copies them)."""
        with no_grad():
            own, sources, groups, own_buffers, model_buffers = self._prepare(model)
            n = int(self.n_averaged.array)
            if n == 0:
                self._copy(groups)
            elif self.multi_avg_fn is not None or self.avg_fn is None:
                for key, (tensors, group_sources) in groups.items():
                    self._average_group(key, tensors, group_sources)
            else:
                for a, s in zip(own, sources):
                    new = self.avg_fn(a.detach(), Tensor._wrap(s), self.n_averaged)
                    a.array[...] = new.array if isinstance(new, Tensor) else new
            if not self.use_buffers:
                for b_own, b_model in zip(own_buffers, model_buffers):
                    b_own.array[...] = to_device(b_model.array, device_of(b_own.array))
            self.n_averaged.array[...] = self.n_averaged.array + 1

    def _prepare(self, model: Module) -> tuple:
        """The averaged tensors, the model's arrays (on the averaged ones' devices), the (dtype, device)
        groups and both buffer lists; the groups are reused while the same tensors and arrays come back."""
        own, own_buffers = _tensors(self.module, self.use_buffers)
        theirs, model_buffers = _tensors(model, self.use_buffers)
        datas = [t.array for t in theirs][:len(own)]
        own = own[:len(datas)]
        arrays = datas + [t.array for t in own]
        plan = self._plan
        if plan is not None and len(plan[3]) == len(arrays) and all(a is b for a, b in zip(arrays, plan[3])):
            return plan[0], plan[1], plan[2], own_buffers, model_buffers
        sources = [self._source(a, d) for a, d in zip(own, datas)]
        groups = self._groups(own, sources)
        moved = any(s is not d or d.dtype != t.array.dtype for s, d, t in zip(sources, datas, own))
        self._plan = None if moved else (own, sources, groups, arrays)
        return own, sources, groups, own_buffers, model_buffers

    @staticmethod
    def _source(averaged, data):
        target = device_of(averaged.array)
        return data if device_of(data) == target else to_device(data, target)

    @staticmethod
    def _groups(tensors: list, sources: list) -> dict:
        """(dtype, device) -> (averaged tensors, the model's arrays cast to that dtype), in first-seen order
        (torch groups the same way)."""
        groups: dict = {}
        for t, source in zip(tensors, sources):
            dtype = t.array.dtype
            members = groups.setdefault((dtype, str(device_of(t.array))), ([], []))
            members[0].append(t)
            members[1].append(source if source.dtype == dtype else source.astype(dtype))
        return groups

    def _layout(self, key, tensors: list) -> FlatAverage:
        flat = self._flat.get(key)
        if flat is None or not flat.attached(tensors):
            flat = self._flat[key] = FlatAverage(tensors)
        return flat

    def _copy(self, groups: dict) -> None:
        for key, (tensors, sources) in groups.items():
            if key[0].kind == "f" and self._fused():
                self._layout(key, tensors).copy_from(sources)
            else:
                for t, source in zip(tensors, sources):
                    t.array[...] = source

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
                integer_update(fn, t.array, s, self.n_averaged)
            return
        if fn is None and device == "cpu":
            rule, scalars, flags = SWA_DIVIDE_RULE, {"count": float(int(self.n_averaged.array) + 1)}, {}
        else:
            rule, scalars, flags = (fn or get_swa_multi_avg_fn()).arguments(self.n_averaged, dtype)
        self._layout(key, tensors).update(sources, rule, scalars, flags)
