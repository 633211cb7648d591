"""Config nodes generated from constructor signatures, for every registered name.

``optimizer=<name>`` works for any registered optimizer, built-in or third-party,
without a YAML file per plugin: each node's fields and defaults come from the
class signature, typed (a tuple default becomes a list of floats, a float stays
a float), with ``lr`` interpolated from the run's top-level ``lr``.
"""
from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import field
from typing import Any, List, Optional

from omegaconf import MISSING

from .schema import DATA_DERIVED, LOADER_KEYS

__all__ = ["node_for"]

#: Keys every generated node carries in addition to the signature's arguments.
_META_KEYS = ("name", "_target_", "interval", "monitor") + LOADER_KEYS

#: Arguments never exposed as config (deprecated or not meaningful from a config file).
_SKIPPED_ARGS = {"verbose", "size_average", "reduce"}

#: Scheduler arguments that default to another config value when the class requires them.
_SCHEDULER_LINKS = {"max_lr": "${optimizer.lr}", "T_max": "${trainer.max_epochs}"}


# --------------------------------------------------------------------------- generated nodes


def _simple(tp):
    """``tp`` when it is one of the scalar types OmegaConf validates, else None."""
    return tp if tp in (int, float, bool, str) else None


def _from_annotation(annotation):
    """(config type, optional?) for a resolved annotation, or (None, False) when unusable."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = type(None) in typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if len(args) == 1:
            inner, _ = _from_annotation(args[0])
            return inner, optional
        if set(args) <= {int, float}:
            return float, optional
        return None, optional
    if origin in (list, tuple) or (origin is not None and getattr(origin, "__name__", "") == "Sequence"):
        elems = {a for a in args if a is not Ellipsis}
        if elems <= {int, float} and float in elems:
            return List[float], False
        if len(elems) == 1 and _simple(next(iter(elems))):
            return List[next(iter(elems))], False
        return List[Any], False
    return _simple(annotation), False


def _hints(obj) -> dict:
    """Resolved type hints of ``obj``'s constructor (empty when they cannot be resolved)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        return typing.get_type_hints(target)
    except Exception:  # string annotations naming things we cannot import: infer from defaults
        return {}


def _signature(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _field_for(name: str, param: inspect.Parameter, hint) -> tuple | None:
    """A ``make_dataclass`` field spec for one constructor argument, or None to leave it out."""
    default = param.default
    required = default is inspect.Parameter.empty
    tp, optional = _from_annotation(hint) if hint is not None else (None, False)
    if not required:
        if callable(default) and not isinstance(default, (bool, int, float, str)):
            return None  # functions/classes cannot be written in a config
        if isinstance(default, (list, tuple)):
            values = list(default)
            if tp is None:
                kinds = {type(v) for v in values}
                if kinds and kinds <= {int, float} and float in kinds:
                    tp = List[float]
                elif len(kinds) == 1 and _simple(next(iter(kinds))):
                    tp = List[next(iter(kinds))]
                else:
                    tp = List[Any]
            if typing.get_origin(tp) is not list:
                tp = List[Any]
            return (name, Optional[tp] if optional else tp, field(default_factory=lambda v=values: list(v)))
        if default is not None and not isinstance(default, (bool, int, float, str)):
            return None  # e.g. a default Tensor or object: keep the class default
        if tp is None:
            if isinstance(default, bool):
                tp = bool
            elif isinstance(default, float):
                tp = float
            elif isinstance(default, str):
                tp = str
            else:
                tp = Any  # int (may take a float such as momentum=0.9) or None: checked later
        if tp is int and isinstance(default, int) and hint is None:
            tp = Any
        if default is None or optional:
            tp = Optional[tp]
        return (name, tp, field(default=default))
    return (name, Optional[tp] if tp not in (None, Any) else Any, field(default=MISSING))


def node_for(group: str, name: str, obj) -> type:
    """A dataclass (the ConfigStore node) describing ``obj``'s constructor for ``group``.

    ``name`` is kept in the node so the builder knows which registry entry to
    construct. For optimizers ``lr`` becomes ``${lr}``; for schedulers a
    required ``T_max``/``max_lr`` becomes ``${trainer.max_epochs}``/``${optimizer.lr}`` and a
    required ``total_steps`` null (filled with the run's length when built); for
    models the data-derived sizes default to null (filled from the data).
    """
    sig = _signature(obj)
    hints = _hints(obj)
    specs = [("name", str, field(default=name))]
    if sig is not None:
        params = list(sig.parameters.values())
        if group in ("optimizer", "scheduler") and params:
            params = params[1:]  # the params iterable / the optimizer
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in _SKIPPED_ARGS or p.name in _META_KEYS:
                continue
            spec = _field_for(p.name, p, hints.get(p.name))
            if spec is None:
                continue
            if group == "optimizer" and p.name == "lr":
                spec = ("lr", Optional[float], field(default="${lr}"))
            elif group == "scheduler" and p.name in _SCHEDULER_LINKS and p.default is inspect.Parameter.empty:
                spec = (p.name, Any, field(default=_SCHEDULER_LINKS[p.name]))
            elif group == "scheduler" and p.name == "total_steps" and p.default is inspect.Parameter.empty:
                spec = ("total_steps", Optional[int], field(default=None))  # null: the run's length
            elif group == "model" and p.name in DATA_DERIVED and p.default is inspect.Parameter.empty:
                spec = (p.name, Optional[int], field(default=None))
            specs.append(spec)
    if group == "model":
        specs.append(("_target_", Optional[str], field(default=None)))
    if group == "scheduler":
        added = {spec[0] for spec in specs}
        for extra in ("interval", "monitor"):
            if extra not in added:  # also when the class takes it (plateau's monitor): skipped above
                specs.append((extra, Optional[str], field(default=None)))
    if group == "data":
        specs += [
            ("batch_size", int, field(default=64)),
            ("val_batch_size", Optional[int], field(default=None)),
            ("shuffle", bool, field(default=True)),
            ("drop_last", bool, field(default=False)),
        ]
    cls_name = "".join(part.capitalize() for part in f"{group}_{name}".replace("-", "_").split("_")) + "Conf"
    return dataclasses.make_dataclass(cls_name, specs)
