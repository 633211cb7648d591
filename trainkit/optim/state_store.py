"""``StateStore``: where an optimizer keeps per-parameter state, and the one way to reach it.

State is keyed by parameter position ``(group index, index in group)``, never
by ``id()``, so ``state_dict()`` is stable and checkpoints are portable. Every
optimizer owns one store (``opt.state_store``; ``opt._state`` is its
``entries`` dict). The optimizer's step code reads and writes ``entries``
directly; everything that reaches state *by parameter* goes through the
store's methods: ``optimizer.state`` (:mod:`.state_view`), the ``state``
setter, and the array-code optimizers' :meth:`StateStore.param_state`.

Per-algorithm behaviour stays in the optimizer's documented hooks, which the
store calls: ``_export_state``/``_import_state`` (default: :meth:`export` and
:meth:`load` here), ``_check_state``, ``_required_state`` and
``_state_shape_must_match``. Element-wise optimizers keep their arrays in flat
buffers and use :class:`~.flat_state.FlatStateStore` instead.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import device_of, get_array_module, to_device


class StateDictError(ValueError):
    """``load_state_dict`` found a state dict that does not fit this optimizer (nothing was changed)."""


def is_array(value) -> bool:
    """A numpy/cupy array (not a numpy scalar)."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value)


def copy_state(value, copy_arrays: bool):
    """``value`` (dicts and lists of state) rebuilt, its arrays copied when ``copy_arrays``."""
    if isinstance(value, dict):
        return {k: copy_state(v, copy_arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_state(v, copy_arrays) for v in value]
    if copy_arrays and is_array(value):
        return value.copy()
    return value


def cast_state(value, like):
    """Cast a loaded state value: arrays to ``like``'s device and (floating) dtype.

    A Tensor (a torch-style optimizer's ``state[p]["momentum_buffer"] = buf``)
    stays the same object, as in torch, so in-place updates of ``buf`` are the
    state's; only its array is moved or cast when needed.
    """
    if isinstance(value, Tensor):
        arr = cast_state(value.array, like)
        if arr.dtype != value.array.dtype or device_of(arr) != device_of(value.array):
            value.array = arr
        return value
    if isinstance(value, dict):
        return {k: cast_state(v, like) for k, v in value.items()}
    if isinstance(value, list):
        return [cast_state(v, like) for v in value]
    if is_array(value):
        arr = to_device(value, device_of(like))
        xp = get_array_module(like)
        if arr.dtype.kind == "f" and arr.ndim > 0:
            arr = xp.asarray(arr, dtype=like.dtype)
        return arr.copy() if arr is value else arr
    return value


def _not_fitting(problems: list[str]) -> StateDictError:
    return StateDictError("optimizer state does not fit; nothing was changed:\n  - " + "\n  - ".join(problems))


class StateStore:
    """Per-parameter state of one optimizer (see the module docstring).

    Attributes:
        entries: ``(group index, index in group) -> dict`` of state.
    """

    def __init__(self, opt):
        self.opt = opt
        self.entries: dict[tuple[int, int], dict] = {}

    # ------------------------------------------------------------ storage (hook defaults)
    def export(self, gi: int, j: int, copy: bool = True) -> dict | None:
        """State of one parameter as a plain dict (arrays copied unless ``copy=False``)."""
        st = self.entries.get((gi, j))
        if st is None:
            return None
        return copy_state(st, copy)

    def load(self, gi: int, j: int, entry: dict) -> None:
        """Store a loaded state entry, cast to the parameter's dtype and device."""
        p = self.opt.param_groups[gi]["params"][j]
        self.entries[(gi, j)] = cast_state(entry, p.array)

    def check(self, gi: int, j: int, entry: dict, group: dict | None = None, complete: bool = True) -> list[str]:
        """Problems with a state entry for parameter ``(gi, j)``: shapes, and missing keys.

        Args:
            group: the group's settings the entry will be used with (the loaded
                ones in ``load_state_dict``); the current group by default.
            complete: also require every key of the optimizer's ``_required_state``.
        """
        opt = self.opt
        p = opt.param_groups[gi]["params"][j]
        problems = []
        for key, value in entry.items():
            shape = getattr(value, "shape", None)
            if shape is not None and len(shape) > 0 and opt._state_shape_must_match(key):
                if tuple(shape) != tuple(p.shape):
                    problems.append(f"state {key!r} of {opt.describe_param(gi, j)} has shape {tuple(shape)}")
        if complete:
            required_keys = opt._required_state(opt.param_groups[gi] if group is None else group, p)
            missing = [key for key in required_keys if entry.get(key) is None]
            if missing:
                problems.append(
                    f"state of {opt.describe_param(gi, j)} is missing {missing} "
                    f"({type(opt).__name__} with these settings keeps {sorted(required_keys)})"
                )
        return problems

    # ------------------------------------------------------------ access by parameter
    def locate(self, param) -> tuple[int, int]:
        """``(group index, index in group)`` of ``param``; KeyError when it is not managed."""
        return self.opt._position(param)

    def has(self, gi: int, j: int) -> bool:
        return (gi, j) in self.entries and self.opt._has_state(gi, j)

    def live(self, gi: int, j: int) -> dict | None:
        """Parameter ``(gi, j)``'s state with its arrays live (not copied), or None."""
        return self.opt._export_state(gi, j, copy=False)

    def describe(self, gi: int, j: int) -> str:
        return self.opt.describe_param(gi, j)

    def params_with_state(self):
        """The managed parameters that have state, in group order (picks up hand-edited groups first)."""
        opt = self.opt
        opt._sync_groups()
        for gi, group in enumerate(opt.param_groups):
            for j, p in enumerate(group["params"]):
                if self.has(gi, j):
                    yield p

    def assign(self, param, entry) -> None:
        """``optimizer.state[param] = entry``: empty resets, anything else is validated and loaded."""
        if not isinstance(entry, Mapping):
            raise TypeError(f"optimizer.state[param] must be set to a dict, got {type(entry).__name__}")
        gi, j = self.locate(param)
        entry = dict(entry)
        if not entry:
            self.reset(param)
            return
        problems = self.opt._check_state(gi, j, entry)
        if problems:
            raise _not_fitting(problems)
        self.opt._import_state(gi, j, entry)

    def replace_all(self, value: Mapping) -> None:
        """``optimizer.state = {param: entry, ...}``: validated as a whole, then loaded."""
        if not isinstance(value, Mapping):
            raise TypeError(
                f"optimizer.state must be set to a mapping param -> dict, got {type(value).__name__}"
            )
        entries = []
        for param, entry in value.items():
            if not isinstance(entry, Mapping):
                raise TypeError(f"optimizer.state values must be dicts, got {type(entry).__name__}")
            entries.append((self.locate(param), dict(entry)))
        problems = [pr for (gi, j), entry in entries if entry for pr in self.opt._check_state(gi, j, entry)]
        if problems:
            raise _not_fitting(problems)
        self.clear()
        for (gi, j), entry in entries:
            if entry:
                self.opt._import_state(gi, j, entry)

    def set_value(self, param, key, value):
        """``optimizer.state[param][key] = value``; returns what ``state[param][key]`` now holds."""
        gi, j = self.locate(param)
        st = self.entries.get((gi, j))
        if st is None:
            self.assign(param, {key: value})
            return self.live(gi, j)[key]
        p = self.opt.param_groups[gi]["params"][j]
        if is_array(value):
            if value.ndim > 0 and self.opt._state_shape_must_match(key) and tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"state {key!r} of {self.describe(gi, j)} must have the parameter's shape "
                    f"{tuple(p.shape)}, got {tuple(value.shape)}"
                )
            value = cast_state(value, p.array)
        st[key] = value
        return value

    def delete_value(self, param, key) -> None:
        """``del optimizer.state[param][key]``: allowed for keys the optimizer can do without."""
        gi, j = self.deletable(param, key)
        st = self.entries.get((gi, j))
        if st is not None:
            st.pop(key, None)

    def deletable(self, param, key) -> tuple[int, int]:
        """Position of ``param``; raises when ``key`` is state the optimizer cannot do without."""
        gi, j = self.locate(param)
        opt = self.opt
        if key in opt._required_state(opt.param_groups[gi], opt.param_groups[gi]["params"][j]):
            raise ValueError(
                f"cannot delete state {key!r} of {self.describe(gi, j)} alone: "
                f"{type(opt).__name__} needs it; `del optimizer.state[param]` resets the whole state"
            )
        return gi, j

    def reset(self, param) -> None:
        """Drop one parameter's state: it starts fresh at its next step."""
        self.entries.pop(self.locate(param), None)

    def clear(self) -> None:
        """Drop every parameter's state."""
        self.entries.clear()

    # ------------------------------------------------------------ array-code optimizers
    def param_state(self, gi: int, j: int, like, make) -> dict:
        """Parameter ``(gi, j)``'s state for a step of an array-code optimizer (Muon, Adafactor, ...).

        On first use ``make()`` builds and stores it; afterwards the stored state
        is returned, re-cast when ``like`` (the parameter's array) changed dtype or
        device since it was made (``model.to()``).
        """
        st = self.entries.get((gi, j))
        if st is None:
            st = make()
            self.entries[(gi, j)] = st
            return st
        for value in st.values():
            if is_array(value) and value.ndim > 0:
                if value.dtype != like.dtype or device_of(value) != device_of(like):
                    st = cast_state(st, like)
                    self.entries[(gi, j)] = st
                return st
        return st
