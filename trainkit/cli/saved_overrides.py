"""Resuming with the run's own config (``trainkit resume <run dir> [overrides]``, ``resume=`` alone).

A run directory made by ``trainkit train`` keeps the overrides it was started
with (Hydra's ``.hydra/overrides.yaml``). Resuming puts them back in front of
the command line, so ``trainkit resume runs/x`` continues the run as it was
configured; overrides given on top are the explicit exception and are named in
one line (values the checkpoint restores, such as ``lr``, are still taken from
the checkpoint, with the usual warning).
"""
from __future__ import annotations

from pathlib import Path

from ..runs.table import override_key as _key
from ..runs.table import run_overrides

__all__ = ["with_saved_overrides"]


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
    saved = [] if run_dir is None else run_overrides(Path(run_dir))
    if not saved:
        return argv
    given = {_key(a) for a in argv if not a.startswith("-") and "=" in a}
    kept = [o for o in saved if _key(o) not in given and _key(o) not in ("resume",) and not _key(o).startswith("hydra.")]
    on_top = [a for a in argv if not a.startswith("-") and "=" in a and _key(a) != "resume"]
    if on_top:
        print(f"trainkit: resuming {run_dir} with its saved config; on top of it: {' '.join(on_top)}", flush=True)
    return kept + argv
