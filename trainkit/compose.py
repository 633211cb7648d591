"""From a resolved run config to the objects of one run: data, model, loss, optimizer, Trainer.

``trainkit train`` composes the config with Hydra and hands it to :func:`build_run`.
:func:`check_config` runs the same argument checks without building anything, so
the command can reject a bad config before Hydra creates a run directory.

Every user mistake found here raises :class:`ConfigError` whose message names the
config key, the value and what is accepted; the command prints it without a
traceback.
"""
from __future__ import annotations

import difflib
import inspect
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from .config import LOADER_KEYS

__all__ = ["ConfigError", "Run", "build_run", "check_config", "call_kwargs", "build_model", "build_data"]

log = logging.getLogger(__name__)

#: Keys of generated nodes that are not constructor arguments.
_NODE_KEYS = {"name", "_target_", "interval", "monitor"}
_DEVICES = "cpu, cuda, cuda:<index> or auto"


class ConfigError(ValueError):
    """A config value the run cannot use; the message names the key, the value and what is accepted."""


# --------------------------------------------------------------------------- values


def _plain(value):
    """OmegaConf containers -> plain dicts/lists (resolved)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True, throw_on_missing=False)
    return value


def _is_number_param(param: inspect.Parameter) -> bool:
    default = param.default
    if isinstance(default, bool):
        return False
    if isinstance(default, (int, float)):
        return True
    return param.annotation in (float, int, "float", "int")


def _coerce(section: str, key: str, value, param: inspect.Parameter | None):
    """Check and convert one value against the constructor parameter it feeds."""
    if param is None:
        return value
    if _is_number_param(param) and value is not None:
        if isinstance(value, bool):
            raise ConfigError(f"{section}.{key}={value!r} is not a number ({param.name} takes a number)")
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(
                    f"{section}.{key}={value!r} is not a number ({param.name} takes a number, e.g. 1e-3)"
                ) from None
            value = int(number) if isinstance(param.default, int) and number.is_integer() and "." not in value and "e" not in value.lower() else number
    if isinstance(param.default, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def _signature(target) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def call_kwargs(section: str, node, target, *, skip_first: bool = False, extra_keys=()) -> dict:
    """The keyword arguments ``node`` gives ``target``, checked against its signature.

    Args:
        section: the config path of ``node`` (``optimizer``), used in messages.
        node: the config node (DictConfig or dict).
        target: the class or factory the arguments are for.
        skip_first: leave out the first parameter (an optimizer's ``params``,
            a scheduler's ``optimizer``): the builder passes it.
        extra_keys: node keys that are not arguments (e.g. loader settings).

    Raises:
        ConfigError: a required value is missing (``???``), a key is not an
            argument of ``target`` (with the closest names), or a value that must be
            a number is not one.
    """
    sig = _signature(target)
    params = dict(sig.parameters) if sig is not None else {}
    if skip_first and params:
        params.pop(next(iter(params)))
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values()) or sig is None
    out = {}
    keys = list(node.keys())
    for key in keys:
        key = str(key)
        if key in _NODE_KEYS or key in extra_keys:
            continue
        if isinstance(node, DictConfig) and OmegaConf.is_missing(node, key):
            raise ConfigError(
                f"{section}.{key} is required and has no default: set it, e.g. `{section}.{key}=<value>`"
            )
        value = _plain(node[key])
        param = params.get(key)
        if param is None and not takes_any:
            close = difflib.get_close_matches(key, list(params), n=3)
            hint = f" Did you mean {' or '.join(f'{section}.{c}' for c in close)}?" if close else ""
            raise ConfigError(
                f"{section}.{key} is not an argument of {getattr(target, '__name__', target)}.{hint} "
                f"Accepted: {', '.join(params) or 'none'}"
            )
        out[key] = _coerce(section, key, value, param)
    return out


def _registry(kind):
    from .plugins import registry

    return registry(kind)


def _lookup(kind: str, section: str, name):
    """The registered object for ``name``, or ConfigError listing what exists (and who provides it)."""
    from .plugins import UnknownNameError

    try:
        return _registry(kind).get(str(name))
    except UnknownNameError as exc:
        raise ConfigError(f"{section}: {exc}") from None


# --------------------------------------------------------------------------- data


@dataclass
class DataInfo:
    """What a model needs to know about the data to size itself."""

    input_shape: tuple
    num_classes: int | None
    target_shape: tuple

    def derived(self) -> dict:
        """Values for the model arguments of ``trainkit.config.DATA_DERIVED``."""
        shape = tuple(int(s) for s in self.input_shape)
        outputs = self.num_classes if self.num_classes else max(1, math.prod(self.target_shape or (1,)))
        values = {"in_features": math.prod(shape) if shape else 1, "num_classes": outputs, "out_features": outputs}
        if len(shape) == 3:
            values["in_channels"] = shape[0]
            values["image_size"] = shape[-1]
        return values


def check_loader_settings(node) -> None:
    """``data.batch_size`` (and ``val_batch_size`` when set) must be integers >= 1."""
    for key in ("batch_size", "val_batch_size"):
        value = _plain(node.get(key)) if key in node else None
        if value is None and key == "val_batch_size":
            continue
        if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 1:
            hint = " (or null: the training batch size)" if key == "val_batch_size" else ""
            raise ConfigError(f"data.{key}={value!r} is not valid: it must be an integer >= 1{hint}")


def build_data(node, seed: int = 0):
    """Build the datasets and loaders of ``node`` (a ``data`` config).

    Returns:
        ``(train_loader, val_loader or None, DataInfo)``.
    """
    from .data import DataLoader

    factory = _lookup("datasets", "data", node.get("name"))
    kwargs = call_kwargs("data", node, factory, extra_keys=LOADER_KEYS)
    try:
        splits = factory(**kwargs)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        raise ConfigError(f"data={node.get('name')}: {exc}") from exc
    loader_cfg = {k: _plain(node[k]) for k in LOADER_KEYS if k in node}
    check_loader_settings(node)
    batch_size = int(loader_cfg.get("batch_size") or 64)
    train = DataLoader(
        splits.train,
        batch_size=batch_size,
        shuffle=bool(loader_cfg.get("shuffle", True)),
        drop_last=bool(loader_cfg.get("drop_last", False)),
        seed=int(seed),
    )
    val = None
    if getattr(splits, "val", None) is not None:
        val = DataLoader(splits.val, batch_size=int(loader_cfg.get("val_batch_size") or batch_size), shuffle=False)
    info = DataInfo(tuple(splits.input_shape), splits.num_classes, tuple(getattr(splits, "target_shape", ())))
    return train, val, info


# --------------------------------------------------------------------------- model, loss


def _model_target(node):
    target = node.get("_target_") if "_target_" in node else None
    if target:
        from hydra.utils import get_object

        try:
            return get_object(str(target)), True
        except Exception as exc:  # ImportError, AttributeError wrapped by Hydra
            raise ConfigError(f"model._target_={target!r} cannot be imported: {exc}") from None
    return _lookup("models", "model", node.get("name")), False


def build_model(node, info: DataInfo | None = None):
    """Construct the model of ``node``: a registered name, or any class given as ``_target_``.

    Data-derived sizes (``in_features``, ``num_classes``, ...) left null are taken
    from ``info``. With ``_target_`` (``model._target_=mypkg.Net``) only the keys
    the class accepts are passed; the others (the replaced model's) are dropped
    with a log message.
    """
    target, user = _model_target(node)
    sig = _signature(target)
    params = dict(sig.parameters) if sig is not None else {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if user:
        accepted = {str(k): node[k] for k in node if str(k) not in _NODE_KEYS and (takes_any or str(k) in params)}
        dropped = sorted(str(k) for k in node if str(k) not in _NODE_KEYS and str(k) not in accepted)
        if dropped:
            log.info("model._target_=%s does not take %s; not passed", node["_target_"], ", ".join(dropped))
        node = OmegaConf.create(accepted)
    kwargs = call_kwargs("model", node, target)
    if info is not None:
        for key, value in info.derived().items():
            if key in params and kwargs.get(key) is None:
                kwargs[key] = value
    try:
        return target(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model ({getattr(target, '__name__', target)}): {exc}") from exc


def build_loss(node):
    """Construct the loss of ``node`` from the loss registry."""
    cls = _lookup("losses", "loss", node.get("name"))
    kwargs = call_kwargs("loss", node, cls)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"loss={node.get('name')}: {exc}") from exc


# --------------------------------------------------------------------------- optimizer, scheduler


def _drop_null_lr(kwargs: dict) -> dict:
    """``lr: null`` means the optimizer's own default learning rate."""
    if "lr" in kwargs and kwargs["lr"] is None:
        kwargs = dict(kwargs)
        del kwargs["lr"]
    return kwargs


def build_optimizer(node, params):
    """Construct the optimizer of ``node`` over ``params`` (parameters or torch-style groups)."""
    cls = _lookup("optimizers", "optimizer", node.get("name"))
    kwargs = _drop_null_lr(call_kwargs("optimizer", node, cls, skip_first=True))
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer={node.get('name')}: {exc}") from exc


def run_steps(steps_per_epoch: int, max_epochs: int, max_steps=None) -> int:
    """Optimizer updates in a run: ``max_steps`` when set, else updates per epoch x epochs."""
    return int(max_steps) if max_steps else int(steps_per_epoch * max_epochs)


def updates_per_epoch(batches: int, accumulate: int) -> int:
    """Optimizer updates per epoch: the Trainer also applies a last, partial accumulation cycle."""
    return max(1, math.ceil(batches / max(1, int(accumulate))))


def _scheduler_context(factory, kwargs: dict, steps_per_epoch: int, max_epochs: int, max_steps,
                       section: str = "scheduler", interval: str | None = None, links: dict | None = None) -> dict:
    """Fill what the run decides into a scheduler's arguments.

    * ``total_steps`` (OneCycleLR, warmup_cosine, warmup_linear, any factory
      with that parameter) left null: the run's length, in updates (or in
      epochs for ``interval=epoch``). A user-set value shorter than the run is
      warned about (the schedule would end, or raise, before the run does).
    * Required ``T_max``/``max_lr`` left out (children of ``sequential``/
      ``chained``): ``trainer.max_epochs`` and the run's ``lr``, the defaults
      the top-level node gets from its config links.
    """
    sig = _signature(factory)
    if sig is None:
        return kwargs
    names = sig.parameters
    total = int(max_epochs) if interval == "epoch" else run_steps(steps_per_epoch, max_epochs, max_steps)
    if "total_steps" in names:
        if all(kwargs.get(k) is None for k in ("total_steps", "epochs", "steps_per_epoch")):
            kwargs["total_steps"] = total
        elif kwargs.get("total_steps") is not None and int(kwargs["total_steps"]) < total:
            log.warning(
                "%s.total_steps=%s is shorter than the run (%d %s); leave it null to use the run's length",
                section, kwargs["total_steps"], total, "epochs" if interval == "epoch" else "updates",
            )
    for key, value in (links or {}).items():
        param = names.get(key)
        if param is not None and param.default is inspect.Parameter.empty and key not in kwargs and value is not None:
            kwargs[key] = value
    return kwargs


def build_scheduler(node, optimizer, *, steps_per_epoch: int = 1, max_epochs: int = 1, max_steps=None,
                    section="scheduler", base_lr=None):
    """Construct the scheduler of ``node`` (None for ``scheduler=none``).

    ``schedulers`` lists (SequentialLR, ChainedScheduler) are built recursively
    from nodes with a ``name``; their children get the same defaults as the
    top level (``T_max`` = ``max_epochs``, ``max_lr`` = ``base_lr``, ``total_steps``
    = the run's length). ``interval``/``monitor`` set on the node override the
    scheduler's own attributes.
    """
    name = node.get("name")
    factory = _lookup("schedulers", section, name)
    if factory is None:
        return None
    kwargs = call_kwargs(section, node, factory, skip_first=True)
    if isinstance(kwargs.get("schedulers"), (list, tuple)):
        built = []
        for i, sub in enumerate(kwargs["schedulers"]):
            if not isinstance(sub, dict) or "name" not in sub:
                raise ConfigError(f"{section}.schedulers[{i}] must be a mapping with a 'name', got {sub!r}")
            built.append(
                build_scheduler(OmegaConf.create(sub), optimizer, steps_per_epoch=steps_per_epoch,
                                max_epochs=max_epochs, max_steps=max_steps, section=f"{section}.schedulers[{i}]",
                                base_lr=base_lr)
            )
        kwargs["schedulers"] = built
    interval = node.get("interval") if "interval" in node else None
    links = {"T_max": int(max_epochs), "max_lr": None if base_lr is None else float(base_lr)}
    kwargs = _scheduler_context(factory, kwargs, steps_per_epoch, max_epochs, max_steps, section, interval, links)
    try:
        scheduler = factory(optimizer, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}={name}: {exc}") from exc
    if scheduler is None:
        return None
    for attr in ("interval", "monitor"):
        value = node.get(attr) if attr in node else None
        if value is not None:
            if attr == "interval" and value not in ("step", "epoch"):
                raise ConfigError(f"{section}.interval={value!r} is not valid; use 'step' or 'epoch'")
            setattr(scheduler, attr, value)
    return scheduler


# --------------------------------------------------------------------------- checks


def _choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not valid; use one of: {', '.join(map(str, allowed))}")


def check_trainer(node) -> None:
    """Validate the enumerated trainer settings (device, NaN policy, clipping, modes)."""
    device = str(node.device)
    if not (device in ("cpu", "cuda", "auto") or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ConfigError(f"trainer.device={device!r} is not valid; use {_DEVICES}")
    if device.startswith("cuda"):
        from .backend import cuda_unavailable_reason

        reason = cuda_unavailable_reason()
        if reason is not None:
            raise ConfigError(
                f"trainer.device={device!r} cannot be used: {reason}. "
                "Use trainer.device=auto to fall back to the CPU, or trainer.device=cpu"
            )
    _choice("trainer.on_nonfinite", node.on_nonfinite, ("error", "skip"))
    clip = node.grad_clip
    _choice("trainer.grad_clip.algorithm", clip.algorithm, ("norm", "value"))
    _choice("trainer.grad_clip.nonfinite", clip.nonfinite, ("skip", "error", "warn"))
    if clip.max is not None and clip.max <= 0:
        raise ConfigError(f"trainer.grad_clip.max={clip.max!r} must be > 0 (or null to turn clipping off)")
    _choice("trainer.checkpoint.mode", node.checkpoint.mode, ("min", "max"))
    _choice("trainer.early_stopping.mode", node.early_stopping.mode, ("min", "max"))
    for key in ("max_epochs", "accumulate", "val_every", "log_every"):
        if node[key] < 1:
            raise ConfigError(f"trainer.{key}={node[key]!r} must be >= 1")
    if node.max_steps is not None and node.max_steps < 1:
        raise ConfigError(f"trainer.max_steps={node.max_steps!r} must be >= 1 (or null)")


#: Metrics the Trainer can report (``train/lr/<group>`` besides); ``val/*`` need validation
#: data, ``val/accuracy`` a classification task.
RUN_METRICS = ("train/loss", "train/grad_norm", "train/skipped_steps", "time/epoch", "val/loss", "val/accuracy")


def _configured_monitors(cfg) -> list[tuple[str, str]]:
    """``(config key, metric)`` of every monitor the run will use."""
    out = []
    tcfg = cfg.trainer
    if tcfg.early_stopping.enabled:
        out.append(("trainer.early_stopping.monitor", str(tcfg.early_stopping.monitor)))
    ck = tcfg.checkpoint
    if ck.enabled and ck.save_best and ck.monitor is not None:
        out.append(("trainer.checkpoint.monitor", str(ck.monitor)))
    if "monitor" in cfg.scheduler and cfg.scheduler.get("monitor") is not None:
        out.append(("scheduler.monitor", str(cfg.scheduler.monitor)))
    return out


def _unknown_metric(key: str, metric: str, available) -> ConfigError:
    available = list(available)
    close = difflib.get_close_matches(metric, available, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"{key}={metric!r} is not a metric this run produces.{hint} Available: {', '.join(available)}"
    )


def check_monitors(cfg, available=None) -> None:
    """Every configured monitor must name a metric the run will produce.

    Args:
        cfg: the run config.
        available: the metrics of this run (from :func:`run_metrics`); None
            checks against every metric any run can produce (before the data
            is known).
    """
    for key, metric in _configured_monitors(cfg):
        if available is None:
            if metric in RUN_METRICS or metric.startswith("train/lr/"):
                continue
            raise _unknown_metric(key, metric, RUN_METRICS)
        if metric not in available:
            raise _unknown_metric(key, metric, available)


def run_metrics(val_loader, info, optimizer) -> list[str]:
    """The metrics a run with this data and optimizer reports."""
    names = ["train/loss", "train/grad_norm", "train/skipped_steps", "time/epoch"]
    names += [f"train/lr/{g.get('name', i)}" for i, g in enumerate(optimizer.param_groups)]
    if val_loader is not None:
        names.append("val/loss")
        if info.num_classes:
            names.append("val/accuracy")
    return names


def check_config(cfg) -> None:
    """Every check :func:`build_run` makes on names and arguments, without building anything.

    Raises:
        ConfigError: the first problem found.
    """
    check_trainer(cfg.trainer)
    for section, kind, skip in (("optimizer", "optimizers", True), ("loss", "losses", False)):
        call_kwargs(section, cfg[section], _lookup(kind, section, cfg[section].get("name")), skip_first=skip)
    factory = _lookup("schedulers", "scheduler", cfg.scheduler.get("name"))
    if factory is not None:
        call_kwargs("scheduler", cfg.scheduler, factory, skip_first=True)
    call_kwargs("data", cfg.data, _lookup("datasets", "data", cfg.data.get("name")), extra_keys=LOADER_KEYS)
    check_loader_settings(cfg.data)
    check_monitors(cfg)
    if not cfg.model.get("_target_"):
        target = _lookup("models", "model", cfg.model.get("name"))
        call_kwargs("model", cfg.model, target)


# --------------------------------------------------------------------------- the run


# --------------------------------------------------------------------------- parameter groups


def build_groups(node, model, base_lr, optimizer=None):
    """Apply the ``params`` rules to ``model``: freeze, then torch-style param groups.

    Args:
        node: the ``params`` config (freeze, unfreeze, param_groups, no_decay,
            layer_decay, lr_slice).
        model: the model (frozen parameters get ``requires_grad=False``).
        base_lr: the run's lr (``lr_mult`` is relative to it); None keeps the
            optimizer's default.
        optimizer: the ``optimizer`` config node; its ``weight_decay`` (when the
            optimizer takes one) becomes every group's default, so the table
            shows the value the run uses (a rule's own ``weight_decay`` and
            ``no_decay`` still win), and its hyperparameter names are the keys a
            ``param_groups`` rule may set besides params/lr/lr_mult/weight_decay/name.

    Returns:
        ``(groups, table, plugins)``: the groups for the optimizer, the printed
        table (with a row per group ``unfreeze`` adds later, ``unfreeze:<pattern>
        (epoch e)``), and the per-run plugins the rules need (``unfreeze`` at an epoch).

    Raises:
        ConfigError: a rule matching nothing, a parameter matched twice, a rule
            key the optimizer does not take, a rule matching only frozen
            parameters that nothing unfreezes, an unfreeze rule matching nothing
            or trainable parameters, everything frozen (the message of ``trainkit.params``).
    """
    from .builtin_plugins.param_rules import pending_unfreeze_rows
    from .params import ParamRuleError, build_param_groups, format_param_groups, optimizer_keys

    rules = _plain(node.param_groups) or None
    unfreeze = _plain(node.unfreeze) or {}
    weight_decay = _optimizer_weight_decay(optimizer)
    allowed = None
    if optimizer is not None and optimizer.get("name") is not None:
        allowed = optimizer_keys(_lookup("optimizers", "optimizer", optimizer.get("name")))
    lr = None if base_lr is None else float(base_lr)
    options = dict(
        weight_decay=weight_decay,
        no_decay=bool(node.no_decay),
        layer_decay=node.layer_decay,
        lr_slice=_plain(node.lr_slice),
        allowed_keys=allowed,
    )
    try:
        groups = build_param_groups(
            model, rules, base_lr=lr, freeze=list(_plain(node.freeze) or []) or None,
            unfreeze=unfreeze or None, **options,
        )
        pending = pending_unfreeze_rows(model, unfreeze, rules, base_lr=lr, **options)
    except ParamRuleError as exc:
        raise ConfigError(f"params: {exc}") from None
    plugins = []
    if unfreeze:
        plugins.append(_unfreeze_plugin(unfreeze, lr, dict(options, param_groups=rules)))
    return groups, format_param_groups(groups, model, pending=pending), plugins


def _optimizer_weight_decay(optimizer) -> float | None:
    """The optimizer node's ``weight_decay`` as a float (None when it has none or it is null)."""
    if optimizer is None or "weight_decay" not in optimizer:
        return None
    value = _plain(optimizer.get("weight_decay"))
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"optimizer.weight_decay={value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"optimizer.weight_decay={value!r} is not a number (e.g. 1e-4)") from None


def _unfreeze_plugin(rules: dict, base_lr, options: dict):
    """The per-run plugin that adds frozen parameters back at an epoch (``params.unfreeze``).

    ``options`` are the group options of the run (param_groups, no_decay,
    layer_decay, lr_slice, weight_decay, allowed_keys), so the unfrozen groups
    are built by the same rules as the initial ones.
    """
    cls = _registry("callbacks").get("unfreeze")
    try:
        return cls(rules, lr=base_lr, **options)
    except (TypeError, ValueError) as exc:  # ParamRuleError is a ValueError
        raise ConfigError(f"params.unfreeze: {exc}") from None


# --------------------------------------------------------------------------- trainer


def build_callbacks(node) -> tuple[list, list[str]]:
    """The configured per-run plugins and the default ones turned off, from ``trainer``.

    Returns:
        ``(plugins, leave_out)`` for ``Trainer(plugins=..., default_plugins=leave_out)``.
    """
    reg = _registry("callbacks")
    plugins, leave_out = [], []

    def make(name, **kwargs):
        cls = reg.get(name)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"trainer ({name}): {exc}") from None

    if node.tensorboard:
        pass  # the default TensorBoard plugin writes to <run_dir>/tensorboard
    else:
        leave_out.append("tensorboard")
    plugins.append(make("progress", enabled=node.progress))
    ck = node.checkpoint
    if ck.enabled:
        plugins.append(make("checkpointing", every_n_epochs=int(ck.every_n_epochs), keep_last=int(ck.keep_last),
                            monitor=ck.monitor if ck.save_best else None, mode=str(ck.mode)))
    else:
        leave_out.append("checkpointing")
    policy = {"error": "raise", "skip": "skip"}[str(node.on_nonfinite)]
    plugins.append(make("nan_guard", on_nonfinite=policy, max_streak=int(node.max_nonfinite_streak)))
    es = node.early_stopping
    if es.enabled:
        plugins.append(make("early_stopping", monitor=str(es.monitor), mode=str(es.mode),
                            patience=int(es.patience), min_delta=float(es.min_delta)))
    return plugins, leave_out


def build_grad_transforms(node) -> list:
    """``trainer.grad_clip`` as a gradient transform (none while ``max`` is null)."""
    clip = node.grad_clip
    if clip.max is None:
        return []
    cls = _registry("grad_transforms").get("grad_clip")
    try:
        return [cls(algorithm=str(clip.algorithm), max=float(clip.max), norm_type=float(clip.norm_type),
                    nonfinite=str(clip.nonfinite), max_consecutive_skips=int(clip.max_consecutive_skips))]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer.grad_clip: {exc}") from None


# --------------------------------------------------------------------------- the run


def _check_run_monitors(cfg, scheduler, val_loader, info, optimizer) -> None:
    """Monitors against the metrics of this very run (validation data? classification?)."""
    available = run_metrics(val_loader, info, optimizer)
    checks = [(k, m) for k, m in _configured_monitors(cfg) if k != "trainer.checkpoint.monitor"]
    monitor = getattr(scheduler, "monitor", None)
    if monitor is not None:
        checks.append(("scheduler.monitor", str(monitor)))
    ck = cfg.trainer.checkpoint
    if ck.enabled and ck.save_best and ck.monitor is not None:
        metric = str(ck.monitor)
        if metric.startswith("val/") and val_loader is None:
            log.warning("trainer.checkpoint.monitor=%r: this run has no validation data, so no best.npz is "
                        "written; available metrics: %s", metric, ", ".join(available))
        else:
            checks.append(("trainer.checkpoint.monitor", metric))
    for key, metric in checks:
        if metric not in available:
            why = " (the data has no validation split)" if metric.startswith("val/") and val_loader is None else ""
            err = _unknown_metric(key, metric, available)
            raise ConfigError(f"{err}{why}")


@dataclass
class Run:
    """Everything one ``trainkit train`` job built, ready for ``run.trainer.fit()``."""

    trainer: Any
    model: Any
    loss: Any
    optimizer: Any
    scheduler: Any
    train_loader: Any
    val_loader: Any
    data_info: DataInfo
    param_groups: list = field(default_factory=list)
    param_table: str = ""


def build_run(cfg, run_dir=None) -> Run:
    """Build the whole run of ``cfg`` (a composed, typed run config).

    Order: seed; data (its shapes size the model); model; loss; parameter rules
    (freeze, groups) -> optimizer; scheduler; gradient transforms and plugins;
    the Trainer (which loads ``resume``/``init_from`` when it starts).

    Raises:
        ConfigError: any config value the run cannot use.
    """
    from . import random as _random
    from .trainer import Trainer

    check_trainer(cfg.trainer)
    tcfg = cfg.trainer
    _random.manual_seed(int(tcfg.seed))
    train_loader, val_loader, info = build_data(cfg.data, seed=int(tcfg.seed))
    model = build_model(cfg.model, info)
    loss = build_loss(cfg.loss)
    base_lr = cfg.optimizer.get("lr") if "lr" in cfg.optimizer else None
    groups, table, rule_plugins = build_groups(cfg.params, model, base_lr, optimizer=cfg.optimizer)
    optimizer = build_optimizer(cfg.optimizer, groups)
    scheduler = build_scheduler(
        cfg.scheduler, optimizer, steps_per_epoch=updates_per_epoch(len(train_loader), int(tcfg.accumulate)),
        max_epochs=int(tcfg.max_epochs), max_steps=tcfg.max_steps, base_lr=cfg.get("lr"),
    )
    _check_run_monitors(cfg, scheduler, val_loader, info, optimizer)
    callbacks, leave_out = build_callbacks(tcfg)
    try:
        trainer = Trainer(
            model, loss, optimizer, train_loader, val_loader=val_loader, scheduler=scheduler,
            plugins=rule_plugins + callbacks, max_epochs=int(tcfg.max_epochs),
            max_steps=None if tcfg.max_steps is None else int(tcfg.max_steps), device=str(tcfg.device),
            accumulate=int(tcfg.accumulate), val_every=int(tcfg.val_every), log_every=int(tcfg.log_every),
            grad_transforms=build_grad_transforms(tcfg), run_dir=run_dir,
            default_plugins=leave_out or True, resume=cfg.get("resume"), init_from=cfg.get("init_from"),
            init_strict=bool(cfg.get("init_strict", True)),
            config=OmegaConf.to_container(cfg, resolve=True),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer: {exc}") from exc
    return Run(trainer, model, loss, optimizer, scheduler, train_loader, val_loader, info, groups, table)
