"""The checks a config passes before a run directory exists (``trainkit train`` runs them first).

:func:`check_config` makes every check :func:`~trainkit.compose.build_run` makes
on names and arguments without building data, model or optimizer, so a bad
command line is one ``trainkit: error: config:`` line, exit 2, and no directory.
Checks that need the data (which metrics the run has) run again in ``build_run``.
"""
from __future__ import annotations

import difflib
import logging

from ..config.schema import LOADER_KEYS, ConfigError
from .callbacks import build_callbacks, build_grad_transforms, callback_metrics, callback_monitors
from .data import check_loader_settings
from .model import model_target
from .values import call_kwargs, lookup

__all__ = ["RUN_METRICS", "check_config", "check_monitors", "check_trainer", "run_metrics"]

log = logging.getLogger("trainkit.compose")

_DEVICES = "cpu, cuda, cuda:<index> or auto"

#: Metrics the Trainer can report (``train/lr/<group>`` besides); ``val/*`` need validation
#: data, ``val/accuracy`` a classification task.
RUN_METRICS = ("train/loss", "train/grad_norm", "train/skipped_steps", "time/epoch", "val/loss", "val/accuracy")


def _choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not valid; use one of: {', '.join(map(str, allowed))}")


def check_trainer(node) -> None:
    """Validate the enumerated trainer settings (device, clipping, counts)."""
    device = str(node.device)
    if not (device in ("cpu", "cuda", "auto") or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ConfigError(f"trainer.device={device!r} is not valid; use {_DEVICES}")
    if device.startswith("cuda"):
        from ..backend import cuda_unavailable_reason

        reason = cuda_unavailable_reason()
        if reason is not None:
            raise ConfigError(
                f"trainer.device={device!r} cannot be used: {reason}. "
                "Use trainer.device=auto to fall back to the CPU, or trainer.device=cpu"
            )
    clip = node.grad_clip
    _choice("trainer.grad_clip.algorithm", clip.algorithm, ("norm", "value"))
    _choice("trainer.grad_clip.nonfinite", clip.nonfinite, ("skip", "error", "warn"))
    if clip.max is not None and clip.max <= 0:
        raise ConfigError(f"trainer.grad_clip.max={clip.max!r} must be > 0 (or null to turn clipping off)")
    _choice("trainer.strategy", node.strategy, ("single", "ddp"))
    if node.num_processes < 1:
        raise ConfigError(f"trainer.num_processes={node.num_processes!r} must be >= 1")
    if node.num_processes > 1 and node.strategy != "ddp":
        raise ConfigError(f"trainer.num_processes={node.num_processes} needs trainer.strategy=ddp")
    if node.strategy == "ddp" and node.num_processes > 1:
        from ..distributed.comm import mpi_unavailable_reason

        reason = mpi_unavailable_reason()
        if reason is not None:
            raise ConfigError(f"trainer.num_processes={node.num_processes}: {reason}")
    for key in ("max_epochs", "accumulate", "val_every", "log_every"):
        if node[key] < 1:
            raise ConfigError(f"trainer.{key}={node[key]!r} must be >= 1")
    if node.get("threads") is not None and node.threads < 1:
        raise ConfigError(f"trainer.threads={node.threads!r} must be >= 1 (or null: chosen per job)")
    if node.max_steps is not None and node.max_steps < 1:
        raise ConfigError(f"trainer.max_steps={node.max_steps!r} must be >= 1 (or null)")
    build_grad_transforms(node)


def unknown_metric(key: str, metric: str, available) -> ConfigError:
    """The error for a monitor naming a metric the run does not produce (with the closest name)."""
    available = list(available)
    close = difflib.get_close_matches(metric, available, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"{key}={metric!r} is not a metric this run produces.{hint} Available: {', '.join(available)}"
    )


def configured_monitors(cfg, callbacks) -> list[tuple[str, str, bool]]:
    """``(config key, metric, required)`` of every monitor the run uses: callbacks, then the scheduler."""
    out = callback_monitors(callbacks)
    if "monitor" in cfg.scheduler and cfg.scheduler.get("monitor") is not None:
        out.append(("scheduler.monitor", str(cfg.scheduler.monitor), True))
    return out


def check_monitors(cfg, callbacks) -> None:
    """Every configured monitor must name a metric some run can produce (before the data is known)."""
    known = RUN_METRICS + callback_metrics(callbacks)
    for key, metric, _ in configured_monitors(cfg, callbacks):
        if metric not in known and not metric.startswith("train/lr/"):
            raise unknown_metric(key, metric, known)


def run_metrics(val_loader, info, optimizer, callbacks=()) -> list[str]:
    """The metrics a run with this data, optimizer and callbacks reports (callbacks' ``metrics``
    are validation metrics: ``val_ema/loss``, ...)."""
    names = ["train/loss", "train/grad_norm", "train/skipped_steps", "time/epoch"]
    names += [f"train/lr/{g.get('name', i)}" for i, g in enumerate(optimizer.param_groups)]
    if val_loader is not None:
        validation = dict.fromkeys(("val/loss", "val/accuracy") + callback_metrics(callbacks))
        names += [m for m in validation if info.num_classes or not m.endswith("/accuracy")]
    return names


def check_run_monitors(callbacks, scheduler, val_loader, info, optimizer) -> None:
    """Monitors against the metrics of this very run (validation data? classification?)."""
    available = run_metrics(val_loader, info, optimizer, callbacks)
    checks = []
    for key, metric, required in callback_monitors(callbacks):
        if not required and metric.startswith("val") and val_loader is None:
            log.warning("%s=%r: this run has no validation data, so no best.npz is written; available "
                        "metrics: %s", key, metric, ", ".join(available))
            continue
        checks.append((key, metric))
    monitor = getattr(scheduler, "monitor", None)
    if monitor is not None:
        checks.append(("scheduler.monitor", str(monitor)))
    for key, metric in checks:
        if metric not in available:
            why = " (the data has no validation split)" if metric.startswith("val/") and val_loader is None else ""
            raise ConfigError(f"{unknown_metric(key, metric, available)}{why}")


def check_config(cfg) -> None:
    """Every check :func:`build_run` makes on names and arguments, without building anything.

    Raises:
        ConfigError: the first problem found.
    """
    check_trainer(cfg.trainer)
    for section, kind, skip in (("optimizer", "optimizers", True), ("loss", "losses", False)):
        call_kwargs(section, cfg[section], lookup(kind, section, cfg[section].get("name")), skip_first=skip)
    call_kwargs("scheduler", cfg.scheduler, lookup("schedulers", "scheduler", cfg.scheduler.get("name")),
                skip_first=True)
    call_kwargs("data", cfg.data, lookup("datasets", "data", cfg.data.get("name")), extra_keys=LOADER_KEYS)
    check_loader_settings(cfg.data)
    check_monitors(cfg, build_callbacks(cfg.callbacks))
    check_targets(cfg)
    if not cfg.model.get("_target_"):
        call_kwargs("model", cfg.model, lookup("models", "model", cfg.model.get("name")))


def check_targets(cfg) -> None:
    """Only ``model._target_`` may name a class, and it must be a ``trainkit.nn.Module`` subclass.

    Checked before anything is built, so a shared config naming an arbitrary
    callable (``model._target_=os.getcwd``) is refused without calling it. The
    other parts come from registered names: a ``_target_`` there is refused too.
    """
    model_target(cfg.model)
    for section in ("data", "loss", "optimizer", "scheduler"):
        if cfg[section].get("_target_") is not None:
            raise ConfigError(
                f"{section}._target_={cfg[section]._target_!r}: {section} is chosen by registered name "
                f"({section}=<name>; `trainkit plugins` lists them), not by _target_; nothing was called"
            )
    for name in cfg.callbacks:
        node = cfg.callbacks[name]
        if node is not None and node.get("_target_") is not None:
            raise ConfigError(
                f"callbacks.{name}._target_={node._target_!r}: callbacks are registered classes "
                "(register_callbacks), configured by name; nothing was called"
            )
