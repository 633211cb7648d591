"""Turning the ``params`` argument of an optimizer into validated param groups.

Kept apart from :mod:`.optimizer` because every rule here exists to give one
clear error: each message names the offending parameter (by name when
``(name, Parameter)`` pairs were given, else by group and position) and says
what is accepted instead.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Real

from ..autograd.tensor import Tensor
from ..nn.parameter import Parameter


def describe(group: Mapping, j: int, gi: int | None = None) -> str:
    """A human name for parameter ``j`` of ``group``: its name, else its position and shape."""
    names = group.get("param_names")
    p = group["params"][j]
    shape = tuple(getattr(p, "shape", ()))
    if names is not None:
        return f"{names[j]!r} (shape {shape})"
    where = f"params[{j}]" + ("" if gi is None else f" of param group {gi}")
    return f"{where} (shape {shape})"


def _is_array(value) -> bool:
    """A numpy/cupy array (or numpy scalar): a value, never a parameter list."""
    return hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "ndim")


def looks_like_params(value) -> bool:
    """True when ``value`` is something one would pass as ``params`` (not a hyperparameter)."""
    if isinstance(value, (str, bytes, Real, Tensor)) or value is None or _is_array(value):
        return False
    if isinstance(value, Mapping):
        return "params" in value
    return isinstance(value, Iterable)


def positional_mistake_message(cls_name: str, second) -> str:
    """The error for ``Optim(filtered_params, [groups], lr=...)`` (the seeds' classic mistake)."""
    kind = type(second).__name__
    return (
        f"{cls_name}() got a {kind} of parameters/param groups as its second positional argument, "
        f"which is `lr`: the signature is {cls_name}(params, lr=..., ...). It looks like both a "
        "(filtered) parameter list and a list of param groups were passed positionally. Pass ONE "
        "`params` argument: a list of dicts like [{'params': [...], 'lr': 1e-4}, {'params': [...]}], "
        "and filter frozen parameters inside each group, e.g. "
        "[p for p in layer.parameters() if p.requires_grad]."
    )


def check_lr_type(cls_name: str, lr) -> None:
    """Reject a non-number ``lr`` with the positional-mistake hint when it looks like params."""
    if isinstance(lr, Real) and not isinstance(lr, bool):
        return
    if isinstance(lr, Tensor) and lr.numel() == 1:
        return
    if _is_array(lr) and lr.ndim == 0 and lr.dtype.kind in "fiu":
        return  # a 0-d array (np.array(0.1)), as torch accepts
    if looks_like_params(lr):
        raise TypeError(positional_mistake_message(cls_name, lr))
    raise TypeError(
        f"{cls_name}: lr must be a float (or a 0-d array / one-element Tensor), "
        f"got {type(lr).__name__} {lr!r}"
    )


def materialize_params(params) -> list:
    """``params`` as a list (a one-shot generator is read exactly once)."""
    if isinstance(params, Tensor):
        raise TypeError(
            "params argument given to the optimizer should be an iterable of Parameters or dicts, "
            f"but got a single {type(params).__name__}; wrap it in a list: [param]"
        )
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but the ordering "
            "of tensors in sets will change between runs. Please use a list instead "
            f"(got a {type(params).__name__} of {len(params)} parameters)."
        )
    if isinstance(params, Mapping):
        return [params]
    if not isinstance(params, Iterable):
        raise TypeError(
            "params argument given to the optimizer should be an iterable of Parameters, "
            f"(name, Parameter) pairs or dicts, but got {type(params).__name__}"
        )
    return list(params)


def normalize_group(param_group, gi: int) -> dict:
    """Validate one group's ``params`` (and names); returns a new dict with lists."""
    if not isinstance(param_group, Mapping):
        raise TypeError(
            f"param_group must be a dict, but got {type(param_group).__name__} (param group {gi})"
        )
    if "params" not in param_group:
        raise ValueError(
            f"param group {gi} has no 'params' key; got keys {sorted(param_group)}"
        )
    group = dict(param_group)
    params = group["params"]
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, (set, frozenset)):
        raise TypeError(
            f"param group {gi}: optimizer parameters need to be organized in ordered collections, "
            "but the ordering of tensors in sets will change between runs. Please use a list instead."
        )
    else:
        params = list(params)
    tensors, names = [], []
    for j, item in enumerate(params):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            names.append(item[0])
            item = item[1]
        tensors.append(item)
        if not isinstance(item, Parameter):
            hint = (
                " (it is a Tensor; wrap trainable arrays in trainkit.nn.Parameter)"
                if isinstance(item, Tensor)
                else ""
            )
            label = f"{names[-1]!r}" if len(names) == len(tensors) else f"params[{j}]"
            raise TypeError(
                f"optimizer can only optimize Parameters, but {label} of param group {gi} is a "
                f"{type(item).__module__}.{type(item).__name__}{hint}"
            )
    if names and len(names) != len(tensors):
        raise ValueError(
            f"param group {gi}: all optimizer params should be with/without names. "
            f"{len(tensors) - len(names)} of {len(tensors)} param names are missing"
        )
    if "param_names" in group and not names:
        names = list(group["param_names"])
        if len(names) != len(tensors):
            raise ValueError(
                f"param group {gi}: 'param_names' has {len(names)} entries for {len(tensors)} params"
            )
    group["params"] = tensors
    if names:
        group["param_names"] = names
    else:
        group.pop("param_names", None)
    seen: dict[int, int] = {}
    for j, p in enumerate(tensors):
        first = seen.setdefault(id(p), j)
        if first != j:
            raise ValueError(
                f"param group {gi} contains the same parameter twice: {describe(group, first, gi)} "
                f"is both params[{first}] and params[{j}]"
                + (f" (also named {group['param_names'][j]!r})" if "param_names" in group else "")
                + "; each parameter may appear once "
                "(it would otherwise be updated twice per step)"
            )
    return group


def check_disjoint(groups: list, new: dict, gi: int) -> None:
    """Raise when ``new`` shares a parameter with an existing group, naming it and both groups."""
    new_ids = {id(p): j for j, p in enumerate(new["params"])}
    for other_i, other in enumerate(groups):
        if ("param_names" in other) != ("param_names" in new):
            raise ValueError(
                "all optimizer param groups should be with/without names. cannot add param group "
                f"{gi} {'with' if 'param_names' in new else 'without'} names to an optimizer whose "
                f"group {other_i} is {'with' if 'param_names' in other else 'without'} names"
            )
        for k, p in enumerate(other["params"]):
            j = new_ids.get(id(p))
            if j is not None:
                raise ValueError(
                    f"some parameters appear in more than one parameter group: "
                    f"{describe(new, j)} is in param group {other_i} (as params[{k}]) "
                    f"and in param group {gi} (as params[{j}])"
                )


def check_no_shared_params(groups: list) -> None:
    """After a hand edit of ``param_groups``: raise when a parameter is in two places, naming both."""
    seen: dict[int, tuple[int, int]] = {}
    for gi, group in enumerate(groups):
        for j, p in enumerate(group["params"]):
            other = seen.setdefault(id(p), (gi, j))
            if other != (gi, j):
                names = group.get("param_names")
                label = repr(names[j]) if names else f"a parameter of shape {tuple(p.shape)}"
                raise ValueError(
                    f"param_groups was edited by hand: {label} is in param group "
                    f"{other[0]} (as params[{other[1]}]) and in param group {gi} (as params[{j}])"
                )
