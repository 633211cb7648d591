"""The Hydra task of ``trainkit train``: build one job's run in its run directory, fit it, report.

A problem found once the run directory exists is one ``trainkit: error:`` line
and a non-zero exit (the directory is removed when nothing was written to it);
inside a ``-m`` sweep the failure is recorded in :data:`SWEEP_FAILURES` and the
sweep goes on.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings

from ..hookspecs import hookimpl
from .common import EXIT_CONFIG_ERROR, EXIT_TRAINING_ERROR

__all__ = ["SWEEP_FAILURES", "prebuild", "train_job"]

log = logging.getLogger("trainkit")

#: The run of a single-job command line, built before Hydra made its run directory (see :func:`prebuild`).
_PREBUILT: list = []

#: Failures of jobs of the current ``-m`` sweep: (job directory, message). A failed
#: job does not stop the sweep; ``cmd_train`` exits non-zero at the end.
SWEEP_FAILURES: list[tuple[str, str]] = []


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions raised during a fit that describe a problem of the run, not a bug: no traceback."""
    from ..checkpoint import CheckpointError
    from ..nn.module import StateDictMismatchError
    from ..optim.lr_scheduler import MissingMetricError
    from ..weights import KeyMapError

    return (MissingMetricError, StateDictMismatchError, CheckpointError, FileNotFoundError, KeyMapError)


def _fail_job(run_dir: str, message: str, code: int, keep_dir: bool = False) -> None:
    """Report a failed job: ``trainkit: error: ...``; exit now (single run) or go on (a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not keep_dir:
        _discard_run_dir(run_dir)
    print(f"trainkit: error: {message}", file=sys.stderr, flush=True)
    log.debug("job failed: %s", message)
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        SWEEP_FAILURES.append((run_dir, message))
        return
    sys.exit(code)


def _is_builtin_plugin_error(exc) -> bool:
    """A PluginHookError raised on purpose by a built-in callback (e.g. a monitor that cannot work)."""
    from ..plugins import PluginHookError, registry

    if not isinstance(exc, PluginHookError) or not isinstance(exc.original, (ValueError, KeyError)):
        return False
    callbacks = registry("callbacks")
    return exc.plugin in callbacks and callbacks.provider(exc.plugin).startswith("trainkit.")


class _ParamTableAfterResume:
    """Logs the param-group table once ``resume`` has restored the optimizer (the lr actually used)."""

    name = "param_table"

    @hookimpl
    def on_fit_start(self, trainer):
        from ..params import format_param_groups

        log.info("parameter groups (restored from %s):\n%s", trainer.resumed_from,
                 format_param_groups(trainer.optimizer.param_groups, trainer.model))


def prebuild(cfg) -> None:
    """Build the run of a single job before Hydra creates its run directory.

    Every config error (a freeze rule matching nothing, a missing data file, a
    model that does not fit the data, ``lr=-1``) then ends the command with exit
    code 2 and no directory; :func:`train_job` fits this very run instead of
    building it a second time. Sweep jobs are built in their own job.

    Raises:
        ConfigError: the first problem found.
    """
    from ..compose import build_run

    _PREBUILT.clear()
    _PREBUILT.append((cfg, build_run(cfg)))


def _take_prebuilt(cfg, run_dir):
    """The prebuilt run when it was built from this config, with its run directory set; else None."""
    from pathlib import Path

    from omegaconf import OmegaConf

    if not _PREBUILT:
        return None
    built_cfg, run = _PREBUILT.pop()
    if OmegaConf.to_container(built_cfg, resolve=True) != OmegaConf.to_container(cfg, resolve=True):
        return None
    run.trainer.run_dir = Path(run_dir)
    return run


def train_job(cfg) -> float | None:
    """The Hydra task: build the run of ``cfg`` in Hydra's run directory and fit it.

    A problem found once the run directory exists is one ``trainkit: error:`` line
    and a non-zero exit (the directory is removed when nothing was written to
    it); inside a ``-m`` sweep the failure is recorded and the sweep goes on.
    """
    from hydra.core.hydra_config import HydraConfig

    from ..compose import ConfigError, build_run
    from ..plugins import TrainingAbort

    run_dir = HydraConfig.get().runtime.output_dir
    resuming = False  # True: run_dir is the resumed run's own directory, never to be removed
    if cfg.get("resume") is not None:
        from pathlib import Path

        from ..checkpoint import run_dir_of

        resuming = run_dir_of(cfg.resume) == Path(run_dir).resolve()
    run = _take_prebuilt(cfg, run_dir)
    if run is None:
        try:
            run = build_run(cfg, run_dir=run_dir)
        except ConfigError as exc:
            return _fail_job(run_dir, f"config: {exc}", EXIT_CONFIG_ERROR, keep_dir=resuming)
    print(f"trainkit: run directory {run_dir}", flush=True)
    _print_device(str(cfg.trainer.device), run.trainer.device)
    if resuming:
        run.trainer.plugins.append(_ParamTableAfterResume())
    elif run.param_table:
        log.info("parameter groups:\n%s", run.param_table)
    try:
        with warnings.catch_warnings():
            # a diverging run overflows inside trainkit's ops before the NaN guard names the step
            warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered",
                                    category=RuntimeWarning, module=r"trainkit(\.|$)")
            metrics = run.trainer.fit()
    except TrainingAbort as exc:
        return _fail_job(run_dir, f"training stopped: {exc}", EXIT_TRAINING_ERROR, keep_dir=resuming)
    except _user_errors() as exc:
        return _fail_job(run_dir, str(exc), EXIT_TRAINING_ERROR, keep_dir=resuming)
    except Exception as exc:
        if not _is_builtin_plugin_error(exc):
            raise
        return _fail_job(run_dir, str(exc.original), EXIT_TRAINING_ERROR, keep_dir=resuming)
    metrics = dict(metrics or {})
    summary = "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(metrics.items()))
    print(f"trainkit: final metrics: {summary}", flush=True)
    for key in ("val/accuracy", "val/loss"):
        if key in metrics:
            print(f"trainkit: {key} {_fmt(metrics[key])}", flush=True)
    _print_small_model(run.model)
    value = metrics.get("val/loss", metrics.get("train/loss"))
    return float(value) if value is not None else None


def _print_device(requested: str, device) -> None:
    """Say which device the run uses; with ``auto`` on the CPU, say why cuda was not used."""
    line = f"trainkit: device {device}"
    if requested == "auto" and device.type == "cpu":
        from ..backend import cuda_unavailable_reason

        line += f" (trainer.device=auto: {cuda_unavailable_reason()})"
    print(line, flush=True)


def _print_small_model(model, limit: int = 16) -> None:
    """Print the learned weights of a tiny model (``y = 3x + 0.8``: w ~ 3, b ~ 0.8)."""
    import numpy as np

    from ..backend import to_device

    named = list(model.named_parameters())
    if sum(int(p.array.size) for _, p in named) > limit:
        return
    values = "  ".join(
        f"{name}={np.array2string(to_device(p.array, 'cpu').ravel(), precision=4)}" for name, p in named
    )
    print(f"trainkit: learned {values}", flush=True)


def _fmt(value) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return str(value)


def _discard_run_dir(run_dir: str) -> None:
    """Remove a run directory that holds nothing but Hydra's bookkeeping (a config error)."""
    import logging as _logging
    import shutil
    from pathlib import Path

    path = Path(run_dir)
    if not path.is_dir():
        return
    allowed = {".hydra", "train.log"}
    if all(p.name in allowed for p in path.iterdir()):
        for handler in list(_logging.getLogger().handlers):
            if getattr(handler, "baseFilename", "").startswith(str(path.resolve())):
                handler.close()
                _logging.getLogger().removeHandler(handler)
        shutil.rmtree(path, ignore_errors=True)
        parent = path.parent
        if parent.name.endswith("_sweep") and parent.is_dir():
            leftovers = [p for p in parent.iterdir() if p.name != "multirun.yaml"]
            if not leftovers:
                shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(OSError):  # runs/ itself, when this job made it and left it empty
            parent.rmdir() if parent.is_dir() else None
            parent.parent.rmdir() if parent.name.endswith("_sweep") else None
