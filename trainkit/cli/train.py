"""``trainkit train``: check the command line, then hand it to ``hydra.main``; and its ``--help``.

Every job of the command line is composed and checked first (:mod:`trainkit.overrides`),
so a config error is one message on stderr, exit code 2, and no run directory.
Hydra is imported only here, so ``trainkit --help`` stays fast.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

from .common import EXIT_TRAINING_ERROR, error, load_plugins
from .job import SWEEP_FAILURES, prebuild, train_job
from .saved_overrides import with_saved_overrides

__all__ = ["cmd_train"]


def _hydra_args(argv: list[str]):
    from hydra._internal.utils import get_args_parser  # the parser hydra.main itself uses

    return get_args_parser().parse_args(argv)


def _check_paths(configs) -> None:
    """``resume``/``init_from`` must name something that exists before a run directory is made."""
    from pathlib import Path

    from .. import checkpoint as ckpt
    from ..compose import ConfigError

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
                "give a checkpoint (.npz written by trainkit), an .npz of name -> array or a .safetensors file"
            )
        if init_from is not None:
            _check_weights_file(str(init_from), cfg.get("init_map"))


def _check_weights_file(path: str, init_map) -> None:
    """The file of ``init_from`` is one trainkit reads (never unpickled) and ``init_map`` is well formed."""
    from ..compose import ConfigError
    from ..compose.values import plain
    from ..weights import KeyMapError, WeightsFileError, normalise_key_map, read_weights

    try:
        read_weights(path)
        normalise_key_map(plain(init_map))
    except WeightsFileError as exc:
        raise ConfigError(f"init_from={path}: {exc}") from None
    except KeyMapError as exc:
        raise ConfigError(f"init_map: {exc}") from None


def _check_run_dir(args, configs) -> None:
    """``hydra.run.dir=<a directory with another run's checkpoints>`` without ``resume``: refused now,
    before Hydra writes into it (the new run's checkpoints would be mixed with and pruned by the old)."""
    from pathlib import Path

    from .. import checkpoint as ckpt
    from ..compose import ConfigError

    if args.multirun or configs[0].get("resume") is not None:
        return
    given = [o.split("=", 1)[1] for o in args.overrides if o.split("=", 1)[0].lstrip("+") == "hydra.run.dir"]
    if not given:
        return
    run_dir = Path(given[-1].strip("'\""))
    found = ckpt.find_checkpoints(run_dir / ckpt.CHECKPOINT_DIRNAME)
    if found:
        raise ConfigError(
            f"hydra.run.dir={run_dir} already holds checkpoints of an earlier run (newest {found[-1].name}); "
            f"continue it with resume={run_dir}, or give a new hydra.run.dir"
        )


def _resume_dir_override(args, configs) -> list[str]:
    """``hydra.run.dir=<the original run>`` when resuming one run of a run directory (not a sweep)."""
    from .. import checkpoint as ckpt

    if args.multirun or len(configs) != 1 or configs[0].get("resume") is None:
        return []
    if any(o.split("=", 1)[0].lstrip("+~") == "hydra.run.dir" for o in args.overrides):
        return []
    run_dir = ckpt.run_dir_of(configs[0].resume)
    if run_dir is None:
        return []
    text = str(run_dir).replace("\\", "\\\\").replace("'", "\\'")
    return [f"hydra.run.dir='{text}'"]


def _shell_completion(request: str) -> int | None:
    """``-sc install=bash|zsh``: trainkit's own script (Hydra's would name a ``trainkit-train`` command);
    ``-sc query=...``: the command line rewritten for Hydra, which then answers (None)."""
    from .completion import completion_script, query_line

    kind, _, shell = request.partition("=")
    if kind == "install" and shell in ("bash", "zsh"):
        print(completion_script(shell), end="")
        return 0
    if kind == "uninstall":
        print("complete -r trainkit 2>/dev/null; unset -f _trainkit_complete")
        return 0
    if kind == "query":
        query_line()
    return None


def _sweep_failures() -> list[tuple[str, str]]:
    """Failed jobs of the sweep that just ran: those this process ran, and those the summary found
    (jobs a parallel launcher ran in other processes); each job once."""
    import sys as _sys

    from pathlib import Path

    found = {str(Path(d).resolve()): m for d, m in SWEEP_FAILURES}
    sweeps = _sys.modules.get("trainkit.cli.sweeps")
    if sweeps is not None:
        for run_dir, message in sweeps.FAILED:
            found.setdefault(str(Path(run_dir).resolve()), message)
        sweeps.FAILED.clear()
    SWEEP_FAILURES.clear()
    return list(found.items())


def _processes(args, configs) -> int:
    """``trainer.num_processes`` when this command should start mpiexec itself, else 1."""
    from ..distributed.launch import under_mpi

    trainer = configs[0].trainer
    n = int(trainer.get("num_processes", 1))
    if n <= 1 or str(trainer.get("strategy")) != "ddp" or under_mpi():
        return 1
    if args.multirun or len(configs) != 1:
        from ..compose import ConfigError

        raise ConfigError("trainer.num_processes > 1 starts one job on several processes; it cannot run a -m sweep "
                          "(start `mpiexec -n N python -m mpi4py -m trainkit train -m ...` instead)")
    return n


def _rank_argv(configs, argv: list[str]) -> tuple[list[str], str | None]:
    """On ranks above 0 of a ddp job: the command line with Hydra's run directory and logs moved
    to a temporary directory (rank 0 alone owns the run directory), warnings and logs silenced."""
    if str(configs[0].trainer.get("strategy")) != "ddp":
        return argv, None
    from ..distributed import get_rank
    from ..distributed.launch import quiet_rank_overrides

    if get_rank() == 0:
        return argv, None
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("trainkit").setLevel(logging.ERROR)
    overrides, tmp = quiet_rank_overrides()
    owned = tuple(o.split("=", 1)[0] for o in overrides)
    kept = [a for a in argv if a.split("=", 1)[0].lstrip("+~") not in owned]
    return kept + overrides, tmp


def cmd_train(argv: list[str]) -> int:
    """``trainkit train``: check the command line, then hand it to ``hydra.main``.

    ``resume=<run dir>`` continues in that run directory (its checkpoints and
    TensorBoard run go on); ``-m`` sweeps run every job even when one fails and
    exit with 1 at the end if any did.
    """
    from ..config import reset_run_id

    reset_run_id()  # each invocation is a new run (also when called twice in one process)
    argv = with_saved_overrides(list(argv))
    args_given = list(argv)
    if _wants_help(args_given):
        return _train_help(args_given)
    import hydra

    from ..compose import ConfigError
    from ..overrides import validate

    try:
        load_plugins()
    except Exception as exc:  # a broken plugin: its loader already named it
        return error(f"loading plugins failed: {exc}", 1)
    args = _hydra_args(argv)
    if args.shell_completion:
        requests = [o for o in args.overrides if o.split("=", 1)[0] in ("install", "uninstall", "query")]
        completed = _shell_completion(requests[0] if requests else "")
        if completed is not None:
            return completed
    informational = args.help or args.hydra_help or args.shell_completion or args.info
    extra: list[str] = []
    quiet_dir = None
    configs = None
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
            _check_run_dir(args, configs)
            processes = _processes(args, configs)
            if processes > 1:
                from ..distributed.launch import launch

                return launch(processes, args_given)
            argv, quiet_dir = _rank_argv(configs, argv)
            if not args.multirun and args.cfg is None:
                prebuild(configs[0])
        except ConfigError as exc:
            return error(f"config: {exc}")
        from .sweeps import dirname_overrides, sweeper_overrides

        extra = [] if quiet_dir else (_resume_dir_override(args, configs) + sweeper_overrides(args.overrides, configs)
                                      + dirname_overrides(args.overrides, args.multirun))
    task = hydra.main(config_path="pkg://trainkit.conf", config_name="config", version_base="1.3")(train_job)
    saved = sys.argv
    sys.argv = ["trainkit-train", *argv, *extra]
    SWEEP_FAILURES.clear()
    import os

    from ..config import RUN_ID_ENV, run_id

    exported = os.environ.get(RUN_ID_ENV)
    os.environ[RUN_ID_ENV] = run_id()  # the same sweep folder in every job process a launcher starts
    try:
        with _known_mode(configs):
            task()
    finally:
        sys.argv = saved
        if exported is None:
            os.environ.pop(RUN_ID_ENV, None)
        else:
            os.environ[RUN_ID_ENV] = exported
        if not informational and quiet_dir:
            import shutil

            shutil.rmtree(quiet_dir, ignore_errors=True)
    failures = _sweep_failures()
    if failures:
        print(f"trainkit: error: {len(failures)} sweep job(s) failed:", file=sys.stderr)
        for run_dir, message in failures:
            print(f"  {run_dir}: {message.splitlines()[0]}", file=sys.stderr)
        return EXIT_TRAINING_ERROR
    return 0


@contextmanager
def _known_mode(configs):
    """While ``hydra.main`` runs: its ``get_mode`` answers with the ``hydra.mode`` that :func:`validate`
    read from this command line's composed config, instead of composing the whole config once more
    only to read that value (about 0.1 s of every run). The overrides ``hydra.main`` adds after
    validation (run and sweep directories, the sweeper's parameters) do not set ``hydra.mode``."""
    try:
        from hydra._internal.hydra import Hydra  # private: with another Hydra layout, compose as Hydra does
    except ImportError:
        Hydra = None
    if configs is None or Hydra is None or "get_mode" not in Hydra.__dict__:  # --cfg, --info: nothing composed
        yield
        return

    def get_mode(self, config_name, overrides):
        return configs.hydra_mode

    original = Hydra.__dict__["get_mode"]
    Hydra.get_mode = get_mode
    try:
        yield
    finally:
        Hydra.get_mode = original


def _wants_help(argv: list[str]) -> bool:
    """``trainkit train --help`` / ``-h`` (Hydra's own ``--hydra-help`` is left to Hydra)."""
    return any(a in ("--help", "-h") for a in argv)


def _group_options(config_dir: str | None) -> dict[str, list[str]]:
    """Config group -> its options: trainkit's YAML files, the registered plugin names and the
    YAML files of ``--config-dir`` (what Hydra finds, without its per-group ConfigStore copies)."""
    from importlib import resources
    from pathlib import Path

    from ..config import REGISTRY_GROUPS
    from ..plugins import registry

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

    from ..compose import ConfigError
    from ..overrides import _Hydra

    overrides = [a for a in argv if a not in ("--help", "-h") and not a.startswith("-")]
    config_dir = None
    if "--config-dir" in argv or "-cd" in argv:
        flag = "--config-dir" if "--config-dir" in argv else "-cd"
        i = argv.index(flag)
        config_dir = argv[i + 1] if i + 1 < len(argv) else None
        overrides = [a for a in overrides if a != config_dir]
    try:
        load_plugins()
        options = _group_options(config_dir)
        groups = sorted(options)
        with _Hydra(config_dir=config_dir) as hydra:
            try:
                cfg = hydra.compose(overrides, hydra_config=True)
            except Exception as exc:  # noqa: BLE001 - shown as a config error
                raise ConfigError(str(exc)) from None
    except ConfigError as exc:
        return error(f"config: {exc}")
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
