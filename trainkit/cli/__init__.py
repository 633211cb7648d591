"""The ``trainkit`` command: ``train``, ``lr-find``, ``groups``, ``export``, ``plugins``.

``trainkit train [overrides]`` runs Hydra's own entry point (``hydra.main``) on
trainkit's configs, so every Hydra feature works as documented: ``-m`` sweeps,
``--cfg job``, ``--help``, ``--config-dir``, ``hydra.run.dir=...``.

* :mod:`.train`: ``trainkit train`` and its ``--help``; :mod:`.job`: the Hydra task;
* :mod:`.lr_find`: ``trainkit lr-find`` (the learning-rate range test);
* :mod:`.inspect_cmds`: ``trainkit groups``, ``trainkit export`` and ``trainkit plugins``;
* :mod:`.common`: exit codes, one-line errors and warnings.

Hydra, numba and tensorboardX are imported only by the subcommand that needs
them, so ``trainkit --help`` is fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .common import EXIT_CONFIG_ERROR, error, warnings_as_lines
from .compare import cmd_compare
from .completion import cmd_completion
from .inspect_cmds import cmd_export, cmd_groups, cmd_plugins
from .lr_find import cmd_lr_find
from .train import cmd_train

__all__ = ["main"]

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
  resume DIR [overrides]  continue a run with the config it was started with
  lr-find [overrides]  the learning-rate range test of a run (same overrides as train):
                       prints the loss curve and the suggested lr, --plot out.png draws it
  groups [overrides]   print the parameter-group table (freeze / param_groups /
                       no_decay / layer_decay rules) for a config, without training;
                       with init_from=FILE also what each of its weights loads into
  compare [DIRS]       final and best metrics of runs side by side (a sweep: its jobs);
                       --plot out.png draws their curves
  export CKPT OUT      write a checkpoint's weights as .safetensors with PyTorch's names
                       (--ema: the averaged weights)
  completion bash|zsh  print the shell completion script: eval "$(trainkit completion bash)"
  plugins              list the plugins, their versions, what each registers and
                       which hooks it implements

options:
  -h, --help           show this message
  --version            print trainkit's version

Runs go to ./runs/<time stamp>_<id>/ (TensorBoard: tensorboard --logdir runs).
"""


def cmd_resume(argv: list[str]) -> int:
    """``trainkit resume <run dir or checkpoint> [overrides]``: ``trainkit train resume=<dir>`` with the saved config."""
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: trainkit resume <run dir | checkpoint> [overrides]\n\nContinue a run with the config it was "
              "started with (overrides on top are applied and named).\nExample: trainkit resume runs/2026-12-04_10-00-00_x "
              "trainer.max_epochs=20")
        return 0 if argv else 2
    target, rest = argv[0], argv[1:]
    if "=" in target or not Path(target).exists():
        return error(f"resume: no such run directory or checkpoint: {target}", 2)
    text = target.replace("\\", "\\\\").replace("'", "\\'")
    return cmd_train([f"resume='{text}'", *rest])


COMMANDS = {
    "train": cmd_train,
    "lr-find": cmd_lr_find,
    "resume": cmd_resume,
    "groups": cmd_groups,
    "compare": cmd_compare,
    "export": cmd_export,
    "plugins": cmd_plugins,
    "completion": cmd_completion,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trainkit`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_CONFIG_ERROR
    if argv[0] == "--version":
        from .._version import __version__

        print(f"trainkit {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        import difflib

        close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return error(f"unknown command {argv[0]!r}.{hint} Commands: {', '.join(COMMANDS)} (trainkit --help)")
    with warnings_as_lines():
        return command(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
