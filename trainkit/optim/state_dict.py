"""``Optimizer.state_dict()`` and ``load_state_dict()``: torch's layout, validated before loading.

The layout is torch's: ``state`` keyed by the global integer index of each
parameter (group by group), ``param_groups`` holding index lists and, when
parameters were given as ``(name, Parameter)`` pairs, ``param_names``. State
dicts hold only dicts, lists, numbers, strings, None and arrays (checkpoints
are npz + JSON). Loading checks the structure first (group count and sizes,
parameter names, state shapes and keys) and lists every problem in one
:class:`~.state_store.StateDictError`; nothing changes unless all of it fits.
Hyperparameters are restored as saved, without the constructor's checks, as
torch does (a scheduler can drive ``lr`` slightly negative, and such a
checkpoint must load).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

from ..autograd.tensor import Tensor
from .state_store import StateDictError

_NOT_SETTINGS = ("params", "param_names")  # group keys that are not hyperparameters


def _plain(value):
    """Group values in state-dict form: tuples become lists, a Tensor (e.g. ``lr``) its array."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Tensor):
        return value.array
    return value


def pack(opt) -> dict:
    """``opt.state_dict()``: the optimizer's state in torch's layout (arrays are copies)."""
    opt._sync_groups()
    groups, state, index = [], {}, 0
    for gi, group in enumerate(opt.param_groups):
        packed = {k: _plain(v) for k, v in group.items() if k != "params"}
        packed["params"] = list(range(index, index + len(group["params"])))
        groups.append(packed)
        for j in range(len(group["params"])):
            st = opt._export_state(gi, j)
            if st is not None:
                state[index + j] = st
        index += len(group["params"])
    return {"state": state, "param_groups": groups}


def _loaded_group(group: dict, saved_group: dict) -> dict:
    """``group``'s settings with the saved group's hyperparameters over them."""
    loaded = dict(group)
    loaded.update({k: v for k, v in saved_group.items() if k not in _NOT_SETTINGS})
    return loaded


def _group_label(gi: int, group: Mapping) -> str:
    name = group.get("name")
    return f"param group {gi} ({name!r})" if name is not None else f"param group {gi}"


def _groups_summary(groups) -> str:
    """``'default' (3 parameters), 'head' (2 parameters)``: how a list of param groups is split."""
    return ", ".join(f"{g.get('name', i)!r} ({len(g['params'])} parameters)" for i, g in enumerate(groups))


def _members_differ(group: Mapping, sgroup: Mapping) -> str:
    """Which parameters only one side's group holds, by name when both sides record names."""
    names, snames = group.get("param_names"), sgroup.get("param_names")
    if names is None or snames is None:
        return ""
    here = [n for n in names if n not in set(snames)]
    there = [n for n in snames if n not in set(names)]
    parts = ([f"only here: {', '.join(here[:10])}"] if here else []) + \
        ([f"only in the loaded one: {', '.join(there[:10])}"] if there else [])
    return f" ({'; '.join(parts)})" if parts else ""


def _problems(opt, state_dict: Mapping, positions: dict) -> list[str]:
    """Every way ``state_dict`` does not fit ``opt``; fills ``positions`` (index -> (group, j))."""
    saved = state_dict["param_groups"]
    problems = []
    for gi, (group, sgroup) in enumerate(zip(opt.param_groups, saved)):
        n, sn = len(group["params"]), len(sgroup["params"])
        if n != sn:
            problems.append(f"{_group_label(gi, group)} has {n} parameters but the loaded one has {sn}"
                            f"{_members_differ(group, sgroup)}")
            continue
        names, snames = group.get("param_names"), sgroup.get("param_names")
        if names is not None and snames is not None and list(names) != list(snames):
            diff = [f"{a!r} != {b!r}" for a, b in zip(names, snames) if a != b]
            problems.append(f"param group {gi} parameter names differ: " + ", ".join(diff[:10]))
        for j, idx in enumerate(sgroup["params"]):
            positions[int(idx)] = (gi, j)
        # Hyperparameters are restored as saved, without the constructor's checks (as in torch):
        # a scheduler may have driven lr slightly negative, and torch reloads that checkpoint.
    if problems:
        return problems
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
        loaded_group = _loaded_group(opt.param_groups[gi], saved[gi])
        problems.extend(opt._check_state(gi, j, entry, group=loaded_group))
    return problems


def load(opt, state_dict: dict) -> None:
    """``opt.load_state_dict(state_dict)``: validate everything, then load groups and state.

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
    opt._sync_groups()
    saved = state_dict["param_groups"]
    if len(saved) != len(opt.param_groups):
        raise StateDictError(
            f"loaded state dict has {len(saved)} parameter groups but the optimizer has "
            f"{len(opt.param_groups)}; nothing was changed. Loaded: {_groups_summary(saved)}; "
            f"this optimizer: {_groups_summary(opt.param_groups)}"
        )
    positions: dict = {}
    problems = _problems(opt, state_dict, positions)
    if problems:
        raise StateDictError(
            "loaded optimizer state dict does not match this optimizer; nothing was changed:\n  - "
            + "\n  - ".join(problems)
        )
    for group, sgroup in zip(opt.param_groups, saved):
        for key, value in sgroup.items():
            if key == "params":
                continue
            current = group.get(key)
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            group[key] = copy.deepcopy(value)
    opt.state_store.clear()
    for key, entry in state_dict["state"].items():
        opt._import_state(*positions[int(key)], entry)
