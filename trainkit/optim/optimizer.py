"""``Optimizer``: torch.optim's base class (param groups, state, state dicts).

State is keyed by parameter position ``(group index, index in group)``, never
by ``id()``, so ``state_dict()`` is stable and checkpoints are portable; it
uses torch's layout (``state`` keyed by the global integer index,
``param_groups`` holding index lists and, when parameters were given as
``(name, Parameter)`` pairs, ``param_names``). State dicts hold only dicts,
lists, numbers, strings, None and arrays (checkpoints are npz + JSON).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from numbers import Real

import numpy as np

from ..autograd import enable_grad
from ..nn.parameter import clear_grad
from ..backend import device_of, get_array_module, to_device
from .param_groups import (
    check_disjoint,
    check_lr_type,
    describe,
    looks_like_params,
    materialize_params,
    normalize_group,
    positional_mistake_message,
)


class _Required:
    """Marker for a hyperparameter that every param group must set."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class StateDictError(ValueError):
    """``load_state_dict`` found a state dict that does not fit this optimizer (nothing was changed)."""


class _StateView(Mapping):
    """``optimizer.state[param]`` -> that parameter's state (live arrays), ``{}`` when it has none."""

    def __init__(self, opt: "Optimizer"):
        self._opt = opt

    def _positions(self):
        for gi, group in enumerate(self._opt.param_groups):
            for j, p in enumerate(group["params"]):
                yield gi, j, p

    def __getitem__(self, param):
        for gi, j, p in self._positions():
            if p is param:
                st = self._opt._export_state(gi, j, copy=False)
                return {} if st is None else st
        raise KeyError("parameter is not managed by this optimizer")

    def __iter__(self):
        for gi, j, p in self._positions():
            if self._opt._export_state(gi, j, copy=False) is not None:
                yield p

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, param) -> bool:
        return any(p is param for p in self)


def _plain(value):
    """Group values in JSON-friendly form (tuples become lists)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _copy_state(value, copy_arrays: bool):
    if isinstance(value, dict):
        return {k: _copy_state(v, copy_arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_state(v, copy_arrays) for v in value]
    if copy_arrays and hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value):
        return value.copy()
    return value


class Optimizer:
    """Base class of every optimizer; mirrors ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs (e.g.
            ``model.named_parameters()``) or of dicts (param groups), each dict
            holding ``"params"`` plus any hyperparameter overrides. Iterables
            are read once, so a generator or ``filter`` object works.
        defaults: the default hyperparameters, filled into every group.

    Subclasses implement ``step`` and may override ``_validate`` (checks run on
    the defaults and again on every group) and the state hooks
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
            raise ValueError(
                f"optimizer got no trainable parameters: all {len(all_params)} parameters are "
                "frozen (requires_grad=False); unfreeze some or drop this optimizer"
            )

    # ------------------------------------------------------------------ groups
    def _validate(self, hp: dict) -> None:
        """Raise ValueError (torch's wording) on an invalid hyperparameter; subclasses override."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. layers unfrozen during fine-tuning); unset options take the defaults."""
        gi = len(self.param_groups)
        group = normalize_group(param_group, gi)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group {gi} didn't specify a value of required optimization parameter {name}"
                )
            group.setdefault(name, default)
        if "lr" in group:
            check_lr_type(type(self).__name__, group["lr"])
        self._validate(group)
        check_disjoint(self.param_groups, group, gi)
        self.param_groups.append(group)
        self._on_group_added(gi)

    def _on_group_added(self, gi: int) -> None:
        """Hook: group ``gi`` was appended (flat-buffer optimizers lay it out here)."""

    def describe_param(self, gi: int, j: int) -> str:
        """Name (or position and shape) of parameter ``j`` of group ``gi``, for messages."""
        return describe(self.param_groups[gi], j, gi)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, as torch) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    def step(self, closure=None):  # pragma: no cover - abstract
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    @staticmethod
    def _run_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> Mapping:
        """Per-parameter state, indexed by Parameter (read the arrays; edits act in place)."""
        return _StateView(self)

    def _export_state(self, gi: int, j: int, copy: bool = True) -> dict | None:
        """State of one parameter as a plain dict (arrays copied unless ``copy=False``)."""
        st = self._state.get((gi, j))
        if st is None:
            return None
        return _copy_state(st, copy)

    def _check_state(self, gi: int, j: int, entry: dict) -> list[str]:
        """Problems with a loaded state entry for parameter ``(gi, j)`` (shape checks)."""
        p = self.param_groups[gi]["params"][j]
        problems = []
        for key, value in entry.items():
            shape = getattr(value, "shape", None)
            if shape is not None and len(shape) > 0 and self._state_shape_must_match(key):
                if tuple(shape) != tuple(p.shape):
                    problems.append(
                        f"state {key!r} of {self.describe_param(gi, j)} has shape {tuple(shape)}"
                    )
        return problems

    def _state_shape_must_match(self, key: str) -> bool:
        """Whether state entry ``key`` has the parameter's shape (checked on load)."""
        return False

    def _import_state(self, gi: int, j: int, entry: dict) -> None:
        """Store a loaded state entry, cast to the parameter's dtype and device."""
        p = self.param_groups[gi]["params"][j]
        self._state[(gi, j)] = _cast_state(entry, p.data)

    def state_dict(self) -> dict:
        """The optimizer's state in torch's layout (arrays are copies)."""
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
                parameter names, state shapes, unknown indices).
        """
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict or "state" not in state_dict:
            raise StateDictError(
                "optimizer state dict must be a dict with keys 'state' and 'param_groups', got "
                + (f"keys {sorted(state_dict)}" if isinstance(state_dict, Mapping) else type(state_dict).__name__)
            )
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
                problems.extend(self._check_state(*positions[idx], entry))
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
