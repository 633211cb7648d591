"""The ``trainkit`` command: ``train``, ``plugins``, ``groups``.

``trainkit train [overrides]`` runs Hydra's own entry point (``hydra.main``) on
trainkit's configs, so every Hydra feature works as documented: ``-m`` sweeps,
``--cfg job``, ``--help``, ``--config-dir``, ``hydra.run.dir=...``. Before Hydra
starts (and creates a run directory) the command line is composed and checked
(:mod:`trainkit.overrides`): a config error is one message on stderr, exit code
2, and no directory.

Hydra, numba and tensorboardX are imported only by the subcommand that needs
them, so ``trainkit --help`` is fast.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings

from .hookspecs import hookimpl

__all__ = ["main"]

log = logging.getLogger("trainkit")

USAGE = """\
usage: trainkit <command> [arguments]

Train models written against trainkit's PyTorch-like API, composed from Hydra configs.

commands:
  train [overrides]    train a model; Hydra overrides, e.g.
                         trainkit train optimizer=adam lr=1e-3
                         trainkit train -m optimizer=sgd,adam,rmsprop lr=1e-2,1e-3
                         trainkit train experiment=linear_regression
                       `trainkit train --help` lists the config groups and options,
                       `trainkit train --cfg job` prints the composed config.
  groups [overrides]   print the parameter-group table (freeze / param_groups /
                       no_decay / layer_decay rules) for a config, without training
  plugins              list the plugins, their versions, what each registers and
                       which hooks it implements

options:
  -h, --help           show this message
  --version            print trainkit's version

Runs go to ./runs/<time stamp>_<id>/ (TensorBoard: tensorboard --logdir runs).
"""

EXIT_CONFIG_ERROR = 2
EXIT_TRAINING_ERROR = 1

#: Failures of jobs of the current ``-m`` sweep: (job directory, message). A failed
#: job does not stop the sweep; ``cmd_train`` exits non-zero at the end.
_SWEEP_FAILURES: list[tuple[str, str]] = []


def _error(message: str, code: int = EXIT_CONFIG_ERROR) -> int:
    print(f"trainkit: error: {message}", file=sys.stderr)
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """trainkit's own warnings as one line: through logging once Hydra set it up (so they reach
    the run's ``train.log``), else ``trainkit: warning: ...`` on stderr. Others as usual."""
    if not getattr(category, "__module__", "").startswith("trainkit"):
        return _default(message, category, filename, lineno, file, line)
    text = f"{category.__name__}: {message}"
    if logging.getLogger().handlers:
        logging.getLogger("trainkit").warning("%s", text)
    else:
        print(f"trainkit: warning: {text}", file=sys.stderr, flush=True)
    return None


@contextlib.contextmanager
def _warnings_as_lines():
    saved = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = saved


def _load_plugins():
    """Load the plugin manager and register the generated config nodes; errors become messages."""
    from .config import register_configs

    register_configs()


# --------------------------------------------------------------------------- train


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions raised during a fit that describe a problem of the run, not a bug: no traceback."""
    from .checkpoint import CheckpointError
    from .nn.module import StateDictMismatchError
    from .optim.lr_scheduler import MissingMetricError

    return (MissingMetricError, StateDictMismatchError, CheckpointError, FileNotFoundError)


def _fail_job(run_dir: str, message: str, code: int, keep_dir: bool = False) -> None:
    """Report a failed job: ``trainkit: error: ...``; exit now (single run) or go on (a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not keep_dir:
        _discard_run_dir(run_dir)
    print(f"trainkit: error: {message}", file=sys.stderr, flush=True)
    log.debug("job failed: %s", message)
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        _SWEEP_FAILURES.append((run_dir, message))
        return
    sys.exit(code)


def _is_builtin_plugin_error(exc) -> bool:
    """A PluginHookError raised on purpose by a built-in callback (e.g. a monitor that cannot work)."""
    from .plugins import PluginHookError, registry

    if not isinstance(exc, PluginHookError) or not isinstance(exc.original, (ValueError, KeyError)):
        return False
    callbacks = registry("callbacks")
    return exc.plugin in callbacks and callbacks.provider(exc.plugin).startswith("trainkit.")


class _ParamTableAfterResume:
    """Logs the param-group table once ``resume`` has restored the optimizer (the lr actually used)."""

    name = "param_table"

    @hookimpl
    def on_fit_start(self, trainer):
        from .params import format_param_groups

        log.info("parameter groups (restored from %s):\n%s", trainer.resumed_from,
                 format_param_groups(trainer.optimizer.param_groups, trainer.model))


def _train_job(cfg) -> float | None:
    """The Hydra task: build the run of ``cfg`` in Hydra's run directory and fit it.

    A problem found once the run directory exists is one ``trainkit: error:`` line
    and a non-zero exit (the directory is removed when nothing was written to
    it); inside a ``-m`` sweep the failure is recorded and the sweep goes on.
    """
    from hydra.core.hydra_config import HydraConfig

    from .compose import ConfigError, build_run
    from .plugins import TrainingAbort

    run_dir = HydraConfig.get().runtime.output_dir
    resuming = False  # True: run_dir is the resumed run's own directory, never to be removed
    if cfg.get("resume") is not None:
        from pathlib import Path

        from .checkpoint import run_dir_of

        resuming = run_dir_of(cfg.resume) == Path(run_dir).resolve()
    print(f"trainkit: run directory {run_dir}", flush=True)
    try:
        run = build_run(cfg, run_dir=run_dir)
    except ConfigError as exc:
        return _fail_job(run_dir, str(exc), EXIT_CONFIG_ERROR, keep_dir=resuming)
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
        from .backend import cuda_unavailable_reason

        line += f" (trainer.device=auto: {cuda_unavailable_reason()})"
    print(line, flush=True)


def _print_small_model(model, limit: int = 16) -> None:
    """Print the learned weights of a tiny model (``y = 3x + 0.8``: w ~ 3, b ~ 0.8)."""
    import numpy as np

    from .backend import to_device

    named = list(model.named_parameters())
    if sum(int(p.data.size) for _, p in named) > limit:
        return
    values = "  ".join(
        f"{name}={np.array2string(to_device(p.data, 'cpu').ravel(), precision=4)}" for name, p in named
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


def _hydra_args(argv: list[str]):
    from hydra._internal.utils import get_args_parser  # the parser hydra.main itself uses

    return get_args_parser().parse_args(argv)


def _check_paths(configs) -> None:
    """``resume``/``init_from`` must name something that exists before a run directory is made."""
    from pathlib import Path

    from . import checkpoint as ckpt
    from .compose import ConfigError

    for cfg in configs:
        resume, init_from = cfg.get("resume"), cfg.get("init_from")
        if resume is not None:
            try:
                ckpt.resume_candidates(resume)
            except FileNotFoundError as exc:
                raise ConfigError(f"resume={resume}: {exc}") from None
        if init_from is not None and not Path(str(init_from)).is_file():
            raise ConfigError(
                f"init_from={init_from}: no such file ({Path(str(init_from)).resolve()}); "
                "give a checkpoint (.npz written by trainkit) or an .npz of name -> array"
            )


def _resume_dir_override(args, configs) -> list[str]:
    """``hydra.run.dir=<the original run>`` when resuming one run of a run directory (not a sweep)."""
    from . import checkpoint as ckpt

    if args.multirun or len(configs) != 1 or configs[0].get("resume") is None:
        return []
    if any(o.split("=", 1)[0].lstrip("+~") == "hydra.run.dir" for o in args.overrides):
        return []
    run_dir = ckpt.run_dir_of(configs[0].resume)
    if run_dir is None:
        return []
    text = str(run_dir).replace("\\", "\\\\").replace("'", "\\'")
    return [f"hydra.run.dir='{text}'"]


def cmd_train(argv: list[str]) -> int:
    """``trainkit train``: check the command line, then hand it to ``hydra.main``.

    ``resume=<run dir>`` continues in that run directory (its checkpoints and
    TensorBoard run go on); ``-m`` sweeps run every job even when one fails and
    exit with 1 at the end if any did.
    """
    from .config import reset_run_id

    reset_run_id()  # each invocation is a new run (also when called twice in one process)
    args_given = list(argv)
    if _wants_help(args_given):
        return _train_help(args_given)
    import hydra

    from .compose import ConfigError
    from .overrides import validate

    try:
        _load_plugins()
    except Exception as exc:  # a broken plugin: its loader already named it
        return _error(f"loading plugins failed: {exc}", 1)
    args = _hydra_args(argv)
    informational = args.help or args.hydra_help or args.shell_completion or args.info
    extra: list[str] = []
    if not informational:
        try:
            configs = validate(
                args.overrides,
                multirun=args.multirun,
                config_name=args.config_name,
                config_dir=args.config_dir,
                config_path=args.config_path,
            )
            _check_paths(configs)
        except ConfigError as exc:
            return _error(f"config: {exc}")
        extra = _resume_dir_override(args, configs)
    task = hydra.main(config_path="pkg://trainkit.conf", config_name="config", version_base="1.3")(_train_job)
    saved = sys.argv
    sys.argv = ["trainkit-train", *argv, *extra]
    _SWEEP_FAILURES.clear()
    try:
        task()
    finally:
        sys.argv = saved
    if _SWEEP_FAILURES:
        print(f"trainkit: error: {len(_SWEEP_FAILURES)} sweep job(s) failed:", file=sys.stderr)
        for run_dir, message in _SWEEP_FAILURES:
            print(f"  {run_dir}: {message.splitlines()[0]}", file=sys.stderr)
        _SWEEP_FAILURES.clear()
        return EXIT_TRAINING_ERROR
    return 0


# --------------------------------------------------------------------------- train --help


def _wants_help(argv: list[str]) -> bool:
    """``trainkit train --help`` / ``-h`` (Hydra's own ``--hydra-help`` is left to Hydra)."""
    return any(a in ("--help", "-h") for a in argv)


def _group_options(config_dir: str | None) -> dict[str, list[str]]:
    """Config group -> its options: trainkit's YAML files, the registered plugin names and the
    YAML files of ``--config-dir`` (what Hydra finds, without its per-group ConfigStore copies)."""
    from importlib import resources
    from pathlib import Path

    from .config import REGISTRY_GROUPS
    from .plugins import registry

    found: dict[str, set[str]] = {}
    roots = [resources.files("trainkit.conf")] + ([Path(config_dir)] if config_dir else [])
    for root in roots:
        for group in root.iterdir():
            if group.is_dir() and not group.name.startswith(("_", ".")):
                names = {f.name[:-5] for f in group.iterdir() if f.name.endswith(".yaml")}
                found.setdefault(group.name, set()).update(names)
    for group, kind in REGISTRY_GROUPS.items():
        found.setdefault(group, set()).update(registry(kind))
    return {g: sorted(names) for g, names in found.items()}


def _train_help(argv: list[str]) -> int:
    """Print the groups, their options, the composed defaults and the footer, without Hydra's app
    help (which deep-copies the whole generated ConfigStore once per group: seconds)."""
    from omegaconf import OmegaConf

    from .compose import ConfigError
    from .overrides import _Hydra

    overrides = [a for a in argv if a not in ("--help", "-h") and not a.startswith("-")]
    config_dir = None
    if "--config-dir" in argv or "-cd" in argv:
        flag = "--config-dir" if "--config-dir" in argv else "-cd"
        i = argv.index(flag)
        config_dir = argv[i + 1] if i + 1 < len(argv) else None
        overrides = [a for a in overrides if a != config_dir]
    try:
        _load_plugins()
        options = _group_options(config_dir)
        groups = sorted(options)
        with _Hydra(config_dir=config_dir) as hydra:
            try:
                cfg = hydra.compose(overrides, hydra_config=True)
            except Exception as exc:  # noqa: BLE001 - shown as a config error
                raise ConfigError(str(exc)) from None
    except ConfigError as exc:
        return _error(f"config: {exc}")
    help_cfg = cfg.hydra.help
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    listing = "\n".join(f"{g}: {', '.join(options[g])}" for g in groups)
    print(str(help_cfg.header).rstrip("\n"))
    print("== Config groups ==")
    print("Choose one of each with group=option (e.g. optimizer=sgd):\n")
    print(listing)
    print("\n== Defaults (trainkit train --cfg job shows the composed config) ==\n")
    print(OmegaConf.to_yaml(job).rstrip("\n"))
    print()
    print(str(help_cfg.footer))
    return 0


# --------------------------------------------------------------------------- groups


def cmd_groups(argv: list[str]) -> int:
    """``trainkit groups <overrides>``: compose, build the model, print the group table, exit."""
    from .compose import ConfigError, build_data, build_groups, build_model
    from .overrides import validate

    if any(a in ("-h", "--help") for a in argv):
        print("usage: trainkit groups [overrides]\n\nPrint the parameter-group table "
              "(group, parameters, elements, lr, weight_decay) of a config and exit.\n"
              "Example: trainkit groups model=cnn data=shapes params=finetune")
        return 0
    try:
        _load_plugins()
        cfg = validate(argv)[0]
        _, _, info = build_data(cfg.data, seed=int(cfg.trainer.seed))
        model = build_model(cfg.model, info)
        lr = cfg.optimizer.get("lr") if "lr" in cfg.optimizer else None
        _, table, _ = build_groups(cfg.params, model, lr, optimizer=cfg.optimizer)
    except ConfigError as exc:
        return _error(f"config: {exc}")
    print(table)
    return 0


# --------------------------------------------------------------------------- plugins


def _class_hooks(pm, cls) -> list[str]:
    """Hooks a plugin class implements (its ``@hookimpl`` methods), via pluggy's public parser."""
    return sorted(name for name in dir(cls) if pm.parse_hookimpl_opts(cls, name) is not None)


def cmd_plugins(argv: list[str]) -> int:
    """``trainkit plugins``: name, version, registrations and hooks of every plugin.

    For plugins that register callbacks (per-run plugin classes such as the
    TensorBoard logger) the lifecycle hooks of each class are listed as well.
    """
    from .plugins import get_plugin_manager, plugin_info, registry

    if argv:
        return _error(f"`trainkit plugins` takes no arguments, got: {' '.join(argv)}")
    from .plugins import PluginLoadWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # listed below as one line each
        pm = get_plugin_manager()
        callbacks = registry("callbacks")
        infos = plugin_info()
    for info in infos:
        origin = "built-in" if info.builtin else (info.distribution or "not from a distribution")
        print(f"{info.name} {info.version or '(no version)'} ({origin})")
        for kind, names in sorted(info.registered.items()):
            print(f"  registers {kind}: {', '.join(names)}")
        print(f"  hooks: {', '.join(info.hooks) if info.hooks else '(none)'}")
        for name in info.registered.get("callbacks", []):
            hooks = _class_hooks(pm, callbacks.get(name))
            print(f"  callback {name} hooks: {', '.join(hooks) if hooks else '(none)'}")
    for failure in pm.failures:
        print(f"skipped: {' '.join(failure.split())}")
    return 0


# --------------------------------------------------------------------------- main

COMMANDS = {"train": cmd_train, "groups": cmd_groups, "plugins": cmd_plugins}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trainkit`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_CONFIG_ERROR
    if argv[0] == "--version":
        from . import __version__

        print(f"trainkit {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        import difflib

        close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return _error(f"unknown command {argv[0]!r}.{hint} Commands: {', '.join(COMMANDS)} (trainkit --help)")
    with _warnings_as_lines():
        return command(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
