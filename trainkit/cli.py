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

import logging
import sys

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


def _error(message: str, code: int = EXIT_CONFIG_ERROR) -> int:
    print(f"trainkit: error: {message}", file=sys.stderr)
    return code


def _load_plugins():
    """Load the plugin manager and register the generated config nodes; errors become messages."""
    from .config import register_configs

    register_configs()


# --------------------------------------------------------------------------- train


def _train_job(cfg) -> float | None:
    """The Hydra task: build the run of ``cfg`` in Hydra's run directory and fit it."""
    from hydra.core.hydra_config import HydraConfig

    from .compose import ConfigError, build_run
    from .plugins import TrainingAbort

    run_dir = HydraConfig.get().runtime.output_dir
    print(f"trainkit: run directory {run_dir}", flush=True)
    try:
        run = build_run(cfg, run_dir=run_dir)
    except ConfigError as exc:
        _discard_run_dir(run_dir)
        print(f"trainkit: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CONFIG_ERROR)
    _print_device(str(cfg.trainer.device), run.trainer.device)
    if run.param_table:
        log.info("parameter groups:\n%s", run.param_table)
    try:
        metrics = run.trainer.fit()
    except TrainingAbort as exc:
        print(f"trainkit: training stopped: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
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


def cmd_train(argv: list[str]) -> int:
    """``trainkit train``: check the command line, then hand it to ``hydra.main``."""
    import hydra

    from .compose import ConfigError
    from .overrides import validate

    try:
        _load_plugins()
    except Exception as exc:  # a broken plugin: its loader already named it
        return _error(f"loading plugins failed: {exc}", 1)
    args = _hydra_args(argv)
    informational = args.help or args.hydra_help or args.shell_completion or args.info
    if not informational:
        try:
            validate(
                args.overrides,
                multirun=args.multirun,
                config_name=args.config_name,
                config_dir=args.config_dir,
                config_path=args.config_path,
            )
        except ConfigError as exc:
            return _error(f"config: {exc}")
    task = hydra.main(config_path="pkg://trainkit.conf", config_name="config", version_base="1.3")(_train_job)
    saved = sys.argv
    sys.argv = ["trainkit-train", *argv]
    try:
        task()
    finally:
        sys.argv = saved
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
    pm = get_plugin_manager()
    callbacks = registry("callbacks")
    for info in plugin_info():
        origin = "built-in" if info.builtin else (info.distribution or "not from a distribution")
        print(f"{info.name} {info.version or '(no version)'} ({origin})")
        for kind, names in sorted(info.registered.items()):
            print(f"  registers {kind}: {', '.join(names)}")
        print(f"  hooks: {', '.join(info.hooks) if info.hooks else '(none)'}")
        for name in info.registered.get("callbacks", []):
            hooks = _class_hooks(pm, callbacks.get(name))
            print(f"  callback {name} hooks: {', '.join(hooks) if hooks else '(none)'}")
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
    return command(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
