"""Structured config schemas for ``trainkit train``, registered in Hydra's ConfigStore.

Two kinds of nodes live in the ConfigStore:

* ``trainkit_base``: the typed schema of the whole run (``Config`` below). The
  primary ``conf/config.yaml`` lists it first in its defaults, so every value a
  YAML file or a command-line override sets is type-checked against it and a
  misspelt key is rejected.
* One node per registered optimizer, scheduler and loss (and per plugin-registered
  model or dataset that has no YAML file), generated at start-up from the
  plugin registries. ``optimizer=<name>`` therefore works for any registered
  optimizer, built-in or third-party, without a YAML file per plugin: each
  node's fields and defaults come from the class signature, typed (a tuple
  default becomes a list of floats, a float stays a float), with ``lr``
  interpolated from the run's top-level ``lr``.

Importing this module imports Hydra; ``trainkit`` itself never does.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import secrets
import time
import typing
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, OmegaConf

__all__ = [
    "Config",
    "TrainerConf",
    "GradClipConf",
    "CheckpointConf",
    "EarlyStoppingConf",
    "ParamsConf",
    "REGISTRY_GROUPS",
    "DATA_DERIVED",
    "LOADER_KEYS",
    "register_configs",
    "node_for",
    "run_id",
    "reset_run_id",
]

#: config group -> plugin registry kind whose names are selectable in that group.
REGISTRY_GROUPS = {
    "optimizer": "optimizers",
    "scheduler": "schedulers",
    "loss": "losses",
    "model": "models",
    "data": "datasets",
}

#: Model arguments filled in from the training data when the config leaves them null.
DATA_DERIVED = ("in_features", "num_classes", "in_channels", "image_size", "out_features")

#: Keys of a ``data`` node that configure the DataLoader rather than the dataset factory.
LOADER_KEYS = ("batch_size", "val_batch_size", "shuffle", "drop_last")

#: Keys every generated node carries in addition to the signature's arguments.
_META_KEYS = ("name", "_target_", "interval", "monitor") + LOADER_KEYS

#: Arguments never exposed as config (deprecated or not meaningful from a config file).
_SKIPPED_ARGS = {"verbose", "size_average", "reduce"}

#: Scheduler arguments that default to another config value when the class requires them.
_SCHEDULER_LINKS = {"max_lr": "${lr}", "T_max": "${trainer.max_epochs}"}


# --------------------------------------------------------------------------- schema


@dataclass
class GradClipConf:
    """``trainer.grad_clip``: gradient clipping (off while ``max`` is null).

    ``algorithm`` is ``norm`` (``clip_grad_norm_``) or ``value`` (``clip_grad_value_``);
    ``nonfinite`` says what a non-finite gradient norm does: ``skip`` the update
    (counted; abort after ``max_consecutive_skips`` in a row), ``error`` or ``warn``.
    """

    algorithm: str = "norm"
    max: Optional[float] = None
    norm_type: float = 2.0
    nonfinite: str = "skip"
    max_consecutive_skips: int = 10


@dataclass
class CheckpointConf:
    """``trainer.checkpoint``: when checkpoints are written and which are kept."""

    enabled: bool = True
    every_n_epochs: int = 1
    keep_last: int = 2
    monitor: Optional[str] = "val/loss"
    mode: str = "min"
    save_best: bool = True


@dataclass
class EarlyStoppingConf:
    """``trainer.early_stopping``: stop when ``monitor`` has not improved for ``patience`` validations."""

    enabled: bool = False
    monitor: str = "val/loss"
    mode: str = "min"
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class TrainerConf:
    """``trainer``: the loop's settings (``trainkit.trainer.Trainer`` arguments and its default plugins).

    ``on_nonfinite`` is the NaN guard: ``error`` stops before the update naming the
    step and batch, ``skip`` skips such batches (at most ``max_nonfinite_streak`` in a row).
    ``progress: null`` shows a progress bar only when the output is a terminal.
    """

    max_epochs: int = 10
    max_steps: Optional[int] = None
    device: str = "${device}"  # the top-level `device`, so every trainer preset follows device=...
    accumulate: int = 1
    val_every: int = 1
    log_every: int = 10
    seed: int = 0
    grad_clip: GradClipConf = field(default_factory=GradClipConf)
    checkpoint: CheckpointConf = field(default_factory=CheckpointConf)
    early_stopping: EarlyStoppingConf = field(default_factory=EarlyStoppingConf)
    on_nonfinite: str = "error"
    max_nonfinite_streak: int = 10
    tensorboard: bool = True
    progress: Optional[bool] = None


@dataclass
class ParamsConf:
    """``params``: which parameters train, and with which learning rates (``trainkit.params``).

    Patterns are globs on dotted parameter names (``features.*``) or regular
    expressions prefixed ``re:``. ``unfreeze`` maps a pattern to the epoch it
    starts training (with its own ``lr``/``lr_mult`` when given as a mapping).
    ``lr_slice: [low, high]`` spreads the groups' rates geometrically (fastai's ``slice``).
    """

    freeze: List[str] = field(default_factory=list)
    unfreeze: Dict[str, Any] = field(default_factory=dict)
    param_groups: List[Any] = field(default_factory=list)
    no_decay: bool = False
    layer_decay: Optional[float] = None
    lr_slice: Optional[List[float]] = None


@dataclass
class Config:
    """The whole run. Groups fill ``model``, ``data``, ``loss``, ``optimizer``, ``scheduler``.

    ``lr`` is the run's learning rate: every optimizer node reads ``lr: ${lr}``
    (``null`` keeps the optimizer's own default). ``device`` is the run's device
    (``cpu``, ``cuda``, ``cuda:N``, ``auto``), read by ``trainer.device: ${device}``
    so ``trainkit train device=cuda`` works as the tutorials write it. ``resume`` continues a run from
    its directory or a checkpoint; ``init_from`` loads weights only.
    """

    model: Any = MISSING
    data: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConf = field(default_factory=TrainerConf)
    params: ParamsConf = field(default_factory=ParamsConf)
    lr: Optional[float] = 0.01
    device: str = "cpu"
    resume: Optional[str] = None
    init_from: Optional[str] = None
    init_strict: bool = True


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
    required ``T_max``/``max_lr`` becomes ``${trainer.max_epochs}``/``${lr}`` and a
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


# --------------------------------------------------------------------------- registration

_RUN_ID: str | None = None


def reset_run_id() -> None:
    """Start a new run: the next :func:`run_id` is a fresh one (called once per ``trainkit train``)."""
    global _RUN_ID
    _RUN_ID = None


def run_id() -> str:
    """The current run's id: time stamp plus a random suffix, so runs never share a directory.

    Computed once per run (``trainkit train`` calls :func:`reset_run_id` first), so
    a run's directory name is stable however often Hydra resolves it, and differs
    between two runs started in the same second or in the same process.
    """
    global _RUN_ID
    if _RUN_ID is None:
        _RUN_ID = time.strftime("%Y-%m-%d_%H-%M-%S") + f"_{os.getpid() % 100000:05d}{secrets.token_hex(2)}"
    return _RUN_ID


def _yaml_exists(group: str, name: str) -> bool:
    try:
        return (resources.files("trainkit.conf") / group / f"{name}.yaml").is_file()
    except (ModuleNotFoundError, FileNotFoundError):
        return False


def register_configs() -> None:
    """Register the schema, the resolvers and one node per registered plugin name.

    Loads the plugin manager (built-ins and entry points). Safe to call more
    than once: nodes are replaced.
    """
    from hydra.core.config_store import ConfigStore

    if not OmegaConf.has_resolver("trainkit.run_id"):
        OmegaConf.register_new_resolver("trainkit.run_id", run_id)
    cs = ConfigStore.instance()
    cs.store(name="trainkit_base", node=Config)
    from .plugins import registry

    for group, kind in REGISTRY_GROUPS.items():
        reg = registry(kind)
        for name in list(reg):
            if group in ("model", "data") and _yaml_exists(group, name):
                continue  # a curated YAML file describes this one
            cs.store(group=group, name=name, node=node_for(group, name, reg.get(name)))
