"""``Optimizer``: torch.optim's base class (param groups, state, state dicts).

State is keyed by parameter position ``(group index, index in group)``, never
by ``id()``, so ``state_dict()`` is stable and checkpoints are portable; it
uses torch's layout (``state`` keyed by the global integer index,
``param_groups`` holding index lists and, when parameters were given as
``(name, Parameter)`` pairs, ``param_names``). State dicts hold only dicts,
lists, numbers, strings, None and arrays (checkpoints are npz + JSON).

Because state is positional, the layout each group was built with is
recorded (the group dict and its parameters, by identity). Editing
``param_groups[i]["params"]`` by hand (append, pop, replace a Parameter) or
``param_groups`` itself is detected at the next ``step()``, ``zero_grad()``,
``state_dict()``, ``load_state_dict()`` or state lookup: the edited groups are
validated and laid out again, and state follows each parameter by identity
(new parameters start fresh, removed ones drop their state).
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from numbers import Real
from operator import is_

import numpy as np

from ..autograd import enable_grad
from ..autograd.tensor import Tensor
from ..nn.parameter import clear_grad
from ..backend import device_of, get_array_module, to_device
from .param_groups import (
    check_disjoint,
    check_no_shared_params,
    check_lr_type,
    describe,
    looks_like_params,
    materialize_params,
    normalize_group,
    positional_mistake_message,
)
from .state_view import StateView


class _Required:
    """Marker for a hyperparameter that every param group must set."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


_NOT_SETTINGS = ("params", "param_names")  # group keys that are not hyperparameters


class StateDictError(ValueError):
    """``load_state_dict`` found a state dict that does not fit this optimizer (nothing was changed)."""

def _plain(value):
    """Group values in state-dict form: tuples become lists, a Tensor (e.g. ``lr``) its array."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Tensor):
        return value.data
    return value


def _copy_state(value, copy_arrays: bool):
    if isinstance(value, dict):
        return {k: _copy_state(v, copy_arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_state(v, copy_arrays) for v in value]
    if copy_arrays and hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value):
        return value.copy()
    return value


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value)


class Optimizer:
    """Base class of every optimizer; mirrors ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs (e.g.
            ``model.named_parameters()``) or of dicts (param groups), each dict
            holding ``"params"`` plus any hyperparameter overrides. Iterables
            are read once, so a generator or ``filter`` object works.
        defaults: the default hyperparameters, filled into every group.

    Warning:
        Element-wise optimizers (all but LBFGS, Adafactor, Muon and SparseAdam)
        move each parameter into a flat buffer when they are built: ``p.data``
        is rebound to a view of it, and the update happens there. The array
        originally passed to ``Parameter(w)`` is no longer the parameter
        (torch's ``nn.Parameter(w)`` shares ``w``'s storage for good). Read
        and write weights through ``p.data`` (or ``module.state_dict()``
        taken after the optimizer was built); arrays taken from
        ``module.state_dict()`` before building the optimizer are snapshots.

    Editing ``param_groups[i]["lr"]`` (or any hyperparameter) by hand takes
    effect at the next step and keeps the state. Editing
    ``param_groups[i]["params"]`` by hand works too: the group is laid out
    again at the next step and state follows each parameter (new ones start
    fresh, removed ones drop their state); ``add_param_group`` is the usual way
    to add parameters.

    Subclasses implement ``step`` (starting with ``self._run_closure(closure)``,
    which also picks up hand-edited groups) and may override ``_validate``
    (checks run on the defaults and again on every group),
    ``_required_state`` and the state hooks
    ``_export_state``/``_import_state``/``_on_group_added``.

    >>> import numpy as np
    >>> from trainkit.nn import Parameter
    >>> from trainkit.optim import SGD
    >>> w = Parameter(np.ones(3))
    >>> opt = SGD([w], lr=0.1)
    >>> w.grad = np.ones(3); opt.step(); w.data
    array([0.9, 0.9, 0.9])
    """

    def __new__(cls, *args, **kwargs):
        # ``Optim(filter(...), [groups], lr=...)``: python would report "multiple values for
        # argument 'lr'"; say what actually went wrong instead.
        if len(args) >= 2 and looks_like_params(args[1]):
            raise TypeError(positional_mistake_message(cls.__name__, args[1]))
        return super().__new__(cls)

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        if "lr" in self.defaults and self.defaults["lr"] is not required:
            check_lr_type(type(self).__name__, self.defaults["lr"])
        self.param_groups: list[dict] = []
        self._state: dict[tuple[int, int], dict] = {}
        # (group dict, its parameters) as each group was laid out; see _sync_groups.
        self._laid: list[tuple[dict, list]] = []
        self._index: dict | None = None  # id(param) -> (group, index), rebuilt on demand
        groups = materialize_params(params)
        if len(groups) == 0:
            raise ValueError(
                "optimizer got an empty parameter list (if you filtered out frozen parameters, "
                "e.g. filter(lambda p: p.requires_grad, ...), none were left)"
            )
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        all_params = [p for g in self.param_groups for p in g["params"]]
        if all_params and not any(p.requires_grad for p in all_params):
            # torch accepts this (parameters may be unfrozen later); say so, with the count.
            warnings.warn(
                f"{type(self).__name__} got {len(all_params)} parameters and all of them are frozen "
                "(requires_grad=False): step() changes none of them until some are unfrozen",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )

    # ------------------------------------------------------------------ groups
    def _validate(self, hp: dict) -> None:
        """Raise ValueError (torch's wording) on an invalid hyperparameter; subclasses override."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. layers unfrozen during fine-tuning); unset options take the defaults."""
        self._sync_groups()
        gi = len(self.param_groups)
        group = normalize_group(param_group, gi)
        self._fill_group(group, gi)
        check_disjoint(self.param_groups, group, gi)
        self.param_groups.append(group)
        self._on_group_added(gi)
        self._laid.append((group, list(group["params"])))
        self._index = None

    def _fill_group(self, group: dict, gi: int) -> None:
        """Fill unset options from the defaults and validate them."""
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group {gi} didn't specify a value of required optimization parameter {name}"
                )
            group.setdefault(name, default)
        if "lr" in group:
            check_lr_type(type(self).__name__, group["lr"])
        self._validate(group)

    def _on_group_added(self, gi: int) -> None:
        """Hook: group ``gi`` was appended or laid out again (flat-buffer optimizers lay it out here)."""

    def _reset_layout(self) -> None:
        """Hook: every group is about to be laid out again from scratch."""

    def describe_param(self, gi: int, j: int) -> str:
        """Name (or position and shape) of parameter ``j`` of group ``gi``, for messages."""
        return describe(self.param_groups[gi], j, gi)

    def _sync_groups(self) -> None:
        """Lay out again the groups whose ``params`` (or ``param_groups`` itself) were edited by hand.

        Cheap when nothing changed: one identity comparison per parameter.
        """
        laid = self._laid
        groups = self.param_groups
        if len(groups) == len(laid):
            for group, (laid_group, laid_params) in zip(groups, laid):
                if group is not laid_group:
                    break
                params = group.get("params")  # the dict this optimizer laid out
                if type(params) is not list or len(params) != len(laid_params):
                    break
                if not all(map(is_, params, laid_params)):
                    break
            else:
                return
        self._relayout_edited()

    def _relayout_edited(self) -> None:
        groups, laid = self.param_groups, self._laid
        same_groups = len(groups) == len(laid) and all(g is lg for g, (lg, _) in zip(groups, laid))
        if same_groups:
            changed = [
                gi for gi, (group, (_, laid_params)) in enumerate(zip(groups, laid))
                if type(group["params"]) is not list
                or len(group["params"]) != len(laid_params)
                or not all(map(is_, group["params"], laid_params))
            ]
        else:
            changed = list(range(len(groups)))
        # 1. validate (nothing is changed when an edit is invalid)
        edited = {}
        for gi in changed:
            group = groups[gi]
            try:
                new = normalize_group(group, gi)
                self._fill_group(new, gi)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"param_groups[{gi}] was edited by hand and is not valid: {exc}") from None
            edited[gi] = new
        check_no_shared_params([edited.get(gi, group) for gi, group in enumerate(groups)])
        # 2. keep the state of the parameters being laid out again, by identity
        old = range(len(laid)) if not same_groups else changed
        saved = {}
        for gi in old:
            for j, p in enumerate(laid[gi][1]):
                entry = self._export_state(gi, j)
                if entry is not None:
                    saved[id(p)] = (p, entry)
        # 3. write the validated groups back into the user's dicts and lay them out
        for gi, new in edited.items():
            group = groups[gi]
            params = new.pop("params")
            if type(group.get("params")) is list:
                group["params"][:] = params
            else:
                group["params"] = params
            if "param_names" not in new:
                group.pop("param_names", None)
            group.update(new)
        if same_groups:
            for gi in changed:
                for j in range(len(laid[gi][1])):
                    self._state.pop((gi, j), None)
                self._on_group_added(gi)
                laid[gi] = (groups[gi], list(groups[gi]["params"]))
        else:
            self._state.clear()
            self._reset_layout()
            laid.clear()
            for gi, group in enumerate(groups):
                self._on_group_added(gi)
                laid.append((group, list(group["params"])))
        self._index = None
        # 4. give the state back to the parameters that are still here
        for gi in changed:
            for j, p in enumerate(groups[gi]["params"]):
                hit = saved.get(id(p))
                if hit is not None and hit[0] is p and not self._check_state(gi, j, hit[1], complete=False):
                    self._import_state(gi, j, hit[1])

    def _position(self, param) -> tuple[int, int]:
        """``(group index, index in group)`` of ``param``, in O(1); KeyError when it is not managed."""
        index = self._index
        if index is not None:
            pos = index.get(id(param))
            if pos is not None:
                gi, j = pos
                groups = self.param_groups
                if gi < len(groups):
                    params = groups[gi].get("params")
                    if type(params) is list and j < len(params) and params[j] is param:
                        return pos
        self._sync_groups()
        self._index = index = {
            id(p): (gi, j) for gi, (_, params) in enumerate(self._laid) for j, p in enumerate(params)
        }
        pos = index.get(id(param))
        if pos is None:
            raise KeyError(
                f"{type(param).__name__} is not managed by this optimizer (it is in none of its "
                f"{len(self.param_groups)} param groups)"
            )
        return pos

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, as torch) or to zeros in place.

        A gradient array kept from before (``acc = w.grad``) keeps its values
        after ``zero_grad()`` and the next backward pass, as in torch. For
        optimizers with flat gradient buffers this needs a check (see
        ``ElementwiseOptimizer.zero_grad``): a kept gradient makes its bucket
        get a fresh buffer; the usual loop reuses the buffer. With
        ``set_to_none=False`` gradients are zeroed in place, so kept arrays
        see the zeros (as in torch).
        """
        self._sync_groups()
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    def step(self, closure=None):  # pragma: no cover - abstract
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _run_closure(self, closure):
        """Pick up hand-edited param groups, then evaluate ``closure`` (if any) with grad enabled.

        Every ``step()`` starts with it.
        """
        self._sync_groups()
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> StateView:
        """Per-parameter state, indexed by Parameter, as torch's ``optimizer.state``.

        ``state[p]`` is a dict (``{}`` when ``p`` has no state) whose arrays are
        live; assigning a key writes through (``state[p]["step"] = 100``).
        ``del state[p]``, ``state[p] = {}`` or ``state.clear()`` make the
        parameter(s) start fresh at the next step; ``state[p] = {...}`` with
        complete contents is validated like ``load_state_dict``.
        """
        return StateView(self)

    @state.setter
    def state(self, value: Mapping) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(
                f"optimizer.state must be set to a mapping param -> dict, got {type(value).__name__}"
            )
        entries = []
        for param, entry in value.items():
            if not isinstance(entry, Mapping):
                raise TypeError(f"optimizer.state values must be dicts, got {type(entry).__name__}")
            entries.append((self._position(param), dict(entry)))
        problems = [pr for (gi, j), entry in entries if entry for pr in self._check_state(gi, j, entry)]
        if problems:
            raise StateDictError(
                "optimizer state does not fit; nothing was changed:\n  - " + "\n  - ".join(problems)
            )
        self._clear_state()
        for (gi, j), entry in entries:
            if entry:
                self._import_state(gi, j, entry)

    def _has_state(self, gi: int, j: int) -> bool:
        return (gi, j) in self._state

    def _export_state(self, gi: int, j: int, copy: bool = True) -> dict | None:
        """State of one parameter as a plain dict (arrays copied unless ``copy=False``)."""
        st = self._state.get((gi, j))
        if st is None:
            return None
        return _copy_state(st, copy)

    def _required_state(self, group: dict, param) -> tuple:
        """State keys a parameter must have under ``group``'s settings (checked on load)."""
        return ()

    def _check_state(self, gi: int, j: int, entry: dict, group: dict | None = None,
                     complete: bool = True) -> list[str]:
        """Problems with a state entry for parameter ``(gi, j)``: shapes, and missing keys.

        Args:
            group: the group's settings the entry will be used with (the loaded
                ones in ``load_state_dict``); the current group by default.
            complete: also require every key of :meth:`_required_state`.
        """
        p = self.param_groups[gi]["params"][j]
        problems = []
        for key, value in entry.items():
            shape = getattr(value, "shape", None)
            if shape is not None and len(shape) > 0 and self._state_shape_must_match(key):
                if tuple(shape) != tuple(p.shape):
                    problems.append(
                        f"state {key!r} of {self.describe_param(gi, j)} has shape {tuple(shape)}"
                    )
        if complete:
            required_keys = self._required_state(self.param_groups[gi] if group is None else group, p)
            missing = [key for key in required_keys if entry.get(key) is None]
            if missing:
                problems.append(
                    f"state of {self.describe_param(gi, j)} is missing {missing} "
                    f"({type(self).__name__} with these settings keeps {sorted(required_keys)})"
                )
        return problems

    def _state_shape_must_match(self, key: str) -> bool:
        """Whether state entry ``key`` has the parameter's shape (checked on load)."""
        return False

    def _import_state(self, gi: int, j: int, entry: dict) -> None:
        """Store a loaded state entry, cast to the parameter's dtype and device."""
        p = self.param_groups[gi]["params"][j]
        self._state[(gi, j)] = _cast_state(entry, p.data)

    def _set_param_state(self, param, entry) -> None:
        """``optimizer.state[param] = entry``: empty resets, anything else is validated and loaded."""
        if not isinstance(entry, Mapping):
            raise TypeError(f"optimizer.state[param] must be set to a dict, got {type(entry).__name__}")
        gi, j = self._position(param)
        entry = dict(entry)
        if not entry:
            self._reset_param_state(param)
            return
        problems = self._check_state(gi, j, entry)
        if problems:
            raise StateDictError(
                "optimizer state does not fit; nothing was changed:\n  - " + "\n  - ".join(problems)
            )
        self._import_state(gi, j, entry)

    def _set_state_value(self, param, key, value):
        """``optimizer.state[param][key] = value``; returns what ``state[param][key]`` now holds."""
        gi, j = self._position(param)
        st = self._state.get((gi, j))
        if st is None:
            self._set_param_state(param, {key: value})
            return self._export_state(gi, j, copy=False)[key]
        p = self.param_groups[gi]["params"][j]
        if _is_array(value):
            if value.ndim > 0 and self._state_shape_must_match(key) and tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"state {key!r} of {self.describe_param(gi, j)} must have the parameter's shape "
                    f"{tuple(p.shape)}, got {tuple(value.shape)}"
                )
            value = _cast_state(value, p.data)
        st[key] = value
        return value

    def _delete_state_value(self, param, key) -> None:
        """``del optimizer.state[param][key]``: allowed for keys the optimizer can do without."""
        gi, j = self._deletable(param, key)
        st = self._state.get((gi, j))
        if st is not None:
            st.pop(key, None)

    def _deletable(self, param, key) -> tuple[int, int]:
        """Position of ``param``; raises when ``key`` is state the optimizer cannot do without."""
        gi, j = self._position(param)
        p = self.param_groups[gi]["params"][j]
        if key in self._required_state(self.param_groups[gi], p):
            raise ValueError(
                f"cannot delete state {key!r} of {self.describe_param(gi, j)} alone: "
                f"{type(self).__name__} needs it; `del optimizer.state[param]` resets the whole state"
            )
        return gi, j

    def _reset_param_state(self, param) -> None:
        """Drop one parameter's state: it starts fresh at its next step."""
        gi, j = self._position(param)
        self._state.pop((gi, j), None)

    def _param_state(self, gi: int, j: int, like, make) -> dict:
        """Parameter ``(gi, j)``'s state for a step of an array-code optimizer (Muon, Adafactor, ...).

        On first use ``make()`` builds and stores it; afterwards the stored state
        is returned, re-cast when ``like`` (the parameter's array) changed dtype or
        device since (see ``_matching_state``).
        """
        st = self._state.get((gi, j))
        if st is None:
            st = make()
            self._state[(gi, j)] = st
            return st
        return self._matching_state(gi, j, st, like)

    def _matching_state(self, gi: int, j: int, st: dict, like) -> dict:
        """``st``, re-cast when the parameter's dtype or device changed since it was made (``model.to()``)."""
        for value in st.values():
            if _is_array(value) and value.ndim > 0:
                if value.dtype != like.dtype or device_of(value) != device_of(like):
                    st = _cast_state(st, like)
                    self._state[(gi, j)] = st
                return st
        return st

    def state_dict(self) -> dict:
        """The optimizer's state in torch's layout (arrays are copies)."""
        self._sync_groups()
        groups, state, index = [], {}, 0
        for gi, group in enumerate(self.param_groups):
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            groups.append(packed)
            for j in range(len(group["params"])):
                st = self._export_state(gi, j)
                if st is not None:
                    state[index + j] = st
            index += len(group["params"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()``; everything is validated before anything changes.

        Raises:
            StateDictError: listing every difference (group count, group sizes,
                parameter names, state shapes, state keys missing for a
                parameter, unknown indices).
        """
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict or "state" not in state_dict:
            raise StateDictError(
                "optimizer state dict must be a dict with keys 'state' and 'param_groups', got "
                + (f"keys {sorted(state_dict)}" if isinstance(state_dict, Mapping) else type(state_dict).__name__)
            )
        self._sync_groups()
        saved = state_dict["param_groups"]
        problems = []
        if len(saved) != len(self.param_groups):
            raise StateDictError(
                f"loaded state dict has {len(saved)} parameter groups but the optimizer has "
                f"{len(self.param_groups)}; nothing was changed"
            )
        positions = {}
        for gi, (group, sgroup) in enumerate(zip(self.param_groups, saved)):
            n, sn = len(group["params"]), len(sgroup["params"])
            if n != sn:
                problems.append(f"param group {gi} has {n} parameters but the loaded one has {sn}")
                continue
            names, snames = group.get("param_names"), sgroup.get("param_names")
            if names is not None and snames is not None and list(names) != list(snames):
                diff = [f"{a!r} != {b!r}" for a, b in zip(names, snames) if a != b]
                problems.append(f"param group {gi} parameter names differ: " + ", ".join(diff[:10]))
            for j, idx in enumerate(sgroup["params"]):
                positions[int(idx)] = (gi, j)
            loaded_group = dict(group)
            loaded_group.update({k: v for k, v in sgroup.items() if k not in _NOT_SETTINGS})
            try:
                self._validate(loaded_group)
            except (TypeError, ValueError) as exc:
                problems.append(f"param group {gi}: {exc}")
        if not problems:
            for key, entry in state_dict["state"].items():
                try:
                    idx = int(key)
                except (TypeError, ValueError):
                    problems.append(f"state key {key!r} is not an integer index")
                    continue
                if idx not in positions:
                    problems.append(f"state for parameter index {idx}, which no param group lists")
                    continue
                gi, j = positions[idx]
                loaded_group = dict(self.param_groups[gi])
                loaded_group.update({k: v for k, v in saved[gi].items() if k not in _NOT_SETTINGS})
                problems.extend(self._check_state(gi, j, entry, group=loaded_group))
        if problems:
            raise StateDictError(
                "loaded optimizer state dict does not match this optimizer; nothing was changed:\n  - "
                + "\n  - ".join(problems)
            )
        for group, sgroup in zip(self.param_groups, saved):
            for key, value in sgroup.items():
                if key == "params":
                    continue
                current = group.get(key)
                if isinstance(current, tuple) and isinstance(value, list):
                    value = tuple(value)
                group[key] = copy.deepcopy(value)
        self._clear_state()
        for key, entry in state_dict["state"].items():
            self._import_state(*positions[int(key)], entry)

    def _clear_state(self) -> None:
        self._state.clear()

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for gi, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {gi}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _caller_stacklevel() -> int:
    """``warnings.warn`` stacklevel of the first frame outside trainkit.optim (the user's call)."""
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def _cast_state(value, like):
    """Cast a loaded state value: arrays to ``like``'s device and (floating) dtype."""
    if isinstance(value, dict):
        return {k: _cast_state(v, like) for k, v in value.items()}
    if isinstance(value, list):
        return [_cast_state(v, like) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value):
        arr = to_device(value, device_of(like))
        xp = get_array_module(like)
        if arr.dtype.kind == "f" and arr.ndim > 0:
            arr = xp.asarray(arr, dtype=like.dtype)
        return arr.copy() if arr is value else arr
    if isinstance(value, Real) and not isinstance(value, bool):
        return value
    return value
