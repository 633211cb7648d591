"""Resuming with the run's own config: ``trainkit resume <run dir> [overrides]`` and ``resume=`` alone.

A run directory made by ``trainkit train`` keeps the overrides it was started
with (Hydra's ``.hydra/overrides.yaml``). Resuming puts them back in front of
the command line, so ``trainkit resume runs/x`` continues the run as it was
configured; overrides given on top are the explicit exception and are named in
one line (values the checkpoint restores, such as ``lr``, are still taken from
the checkpoint, with the usual warning).
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

__all__ = ["cmd_resume", "with_saved_overrides"]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def with_saved_overrides(argv: list[str]) -> list[str]:
    """``argv`` with the resumed run's saved overrides in front (unchanged when nothing is resumed).

    Only single runs are completed this way (a ``-m`` sweep resumes job by job);
    keys given on the command line win over the saved ones.
    """
    from ..checkpoint import run_dir_of

    if "-m" in argv or "--multirun" in argv:
        return argv
    resumes = [a.split("=", 1)[1] for a in argv if not a.startswith("-") and _key(a) == "resume" and "=" in a]
    if not resumes:
        return argv
    run_dir = run_dir_of(resumes[-1].strip("'\""))
    saved_file = None if run_dir is None else Path(run_dir) / ".hydra" / "overrides.yaml"
    if saved_file is None or not saved_file.is_file():
        return argv
    given = {_key(a) for a in argv if not a.startswith("-") and "=" in a}
    saved = [str(o) for o in (yaml.safe_load(saved_file.read_text()) or [])]
    kept = [o for o in saved if _key(o) not in given and _key(o) not in ("resume",) and not _key(o).startswith("hydra.")]
    on_top = [a for a in argv if not a.startswith("-") and "=" in a and _key(a) != "resume"]
    if on_top:
        print(f"trainkit: resuming {run_dir} with its saved config; on top of it: {' '.join(on_top)}", flush=True)
    return kept + argv


def cmd_resume(argv: list[str]) -> int:
    """``trainkit resume <run dir or checkpoint> [overrides]``: ``trainkit train resume=<dir>`` with the saved config."""
    from .common import error
    from .train import cmd_train

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cmd_resume(sys.argv[1:]))
