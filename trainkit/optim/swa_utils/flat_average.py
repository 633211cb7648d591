"""Averaged tensors of one dtype and device in one flat buffer, updated in one pass per contiguous run.

:class:`FlatAverage` rebinds each averaged tensor's ``.array`` to a view of a
flat buffer (as an optimizer's :class:`~trainkit.optim.flat.FlatBucket` does
for parameters). The model's arrays are found as *contiguous runs*
(:func:`contiguous_runs`): parameters an element-wise optimizer has laid out
are consecutive views of its flat buffer, so a model trained by one optimizer
group is one run and an update is one fused kernel over all of it; arrays
that are not adjacent in memory are runs of their own. The prepared kernels
(:func:`trainkit.optim.kernels.bind_rule`) are cached while the model's arrays
stay the same objects, so an update of a small model costs a few identity checks.
"""
from __future__ import annotations

import numpy as np

from ...backend import device_of, get_array_module
from ..kernels import bind_rule

__all__ = ["FlatAverage", "contiguous_runs"]


def _address(array) -> int:
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.array.ptr  # cupy


def _flat_base(array):
    """The 1-D contiguous array ``array`` views (None when there is none to merge runs over)."""
    base = getattr(array, "base", None)
    if base is None or base.ndim != 1 or not base.flags.c_contiguous or base.dtype != array.dtype:
        return None
    return base


def contiguous_runs(arrays: list) -> list[tuple[int, int, object]]:
    """``(start, end, flat)``: maximal runs ``arrays[start:end]`` that lie back to back in one buffer.

    ``flat`` is a 1-D view over the run (a contiguous copy for a non-contiguous array).
    """
    runs = []
    k, n = 0, len(arrays)
    while k < n:
        first = arrays[k]
        start = k
        k += 1
        if not first.flags.c_contiguous:
            runs.append((start, k, get_array_module(first).ascontiguousarray(first).reshape(-1)))
            continue
        base = _flat_base(first)
        end = _address(first) + first.nbytes
        total = first.size
        while base is not None and k < n:
            nxt = arrays[k]
            if nxt.base is not base or not nxt.flags.c_contiguous or _address(nxt) != end:
                break
            end += nxt.nbytes
            total += nxt.size
            k += 1
        if k - start == 1:
            runs.append((start, k, first.reshape(-1)))
        else:
            offset = (_address(first) - _address(base)) // first.itemsize
            runs.append((start, k, base[offset:offset + total]))
    return runs


class FlatAverage:
    """Averaged tensors (Parameters or buffers) of one floating dtype and device in one flat buffer.

    Args:
        tensors: the tensors; their ``.array`` become views of :attr:`buffer` (values kept).
    """

    def __init__(self, tensors: list):
        first = tensors[0].array
        self.xp = get_array_module(first)
        self.dtype, self.device = first.dtype, device_of(first)
        self.tensors = list(tensors)
        self.offsets = [0]
        for t in self.tensors:
            self.offsets.append(self.offsets[-1] + int(t.array.size))
        self.buffer = self.xp.empty(self.offsets[-1], dtype=self.dtype)
        self.views = []
        for t, a, b in zip(self.tensors, self.offsets, self.offsets[1:]):
            self.buffer[a:b] = t.array.reshape(-1)
            view = self.buffer[a:b].reshape(t.array.shape)
            t.array = view
            self.views.append(view)
        self._sources: list = []
        self._runs: list = []
        self._runners: dict = {}

    def attached(self, tensors: list) -> bool:
        """True when ``tensors`` are this layout's tensors and each still views the buffer."""
        if len(tensors) != len(self.tensors):
            return False
        for t, own, view in zip(tensors, self.tensors, self.views):
            if t is not own or t.array is not view:
                return False
        return True

    def _bind_sources(self, sources: list) -> None:
        same = len(sources) == len(self._sources) and all(a is b for a, b in zip(sources, self._sources))
        if not same:
            self._sources = list(sources)
            self._runs = contiguous_runs(self._sources)
            self._runners = {}

    def copy_from(self, sources: list) -> None:
        """Copy the model's arrays in (torch's first ``update_parameters``)."""
        self._bind_sources(sources)
        for start, end, flat in self._runs:
            self.buffer[self.offsets[start]:self.offsets[end]] = flat

    def update(self, sources: list, rule, scalars: dict, flags: dict) -> None:
        """Run ``rule`` (``averaged``, ``current``) over every run: one fused pass per run."""
        self._bind_sources(sources)
        key = (rule.name, tuple(sorted(flags.items())))
        runners = self._runners.get(key)
        if runners is None:
            runners = [
                bind_rule(rule, {"averaged": self.buffer[self.offsets[start]:self.offsets[end]], "current": flat},
                          flags)
                for start, end, flat in self._runs
            ]
            self._runners[key] = runners
        for run in runners:
            run(scalars)
