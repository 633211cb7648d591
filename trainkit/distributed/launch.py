"""``trainkit train trainer.strategy=ddp trainer.num_processes=N``: start ``mpiexec`` on this machine.

A thin wrapper: it runs ``mpiexec -n N python -m mpi4py -m trainkit train <the same
arguments>`` and returns its exit code. On a cluster start ``mpiexec`` yourself
(hosts, processes per node). Also: what ranks above 0 add to the Hydra command line,
so that only rank 0 makes a run directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["LAUNCHED_ENV", "find_mpiexec", "launch", "mpiexec_command", "mpiexec_prefix", "quiet_rank_overrides",
           "under_mpi"]

#: set in the processes :func:`launch` starts, so they never start mpiexec again
LAUNCHED_ENV = "TRAINKIT_DDP_LAUNCHED"

#: environment variables a process started by mpiexec has (MPICH/Hydra, Open MPI, PMIx, Slurm)
_MPI_ENV = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


def under_mpi() -> bool:
    """True in a process started by mpiexec (or by :func:`launch`)."""
    return any(name in os.environ for name in (LAUNCHED_ENV, *_MPI_ENV))


def find_mpiexec() -> str | None:
    """The ``mpiexec`` next to this Python (the ``mpich`` wheel's) or else the first on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


def mpiexec_command(n: int, argv: list[str], mpiexec: str | None = None) -> list[str]:
    """``mpiexec -n N [Open MPI flags] python -m mpi4py -m trainkit train <argv>``."""
    return [*mpiexec_prefix(n, mpiexec), sys.executable, "-m", "mpi4py", "-m", "trainkit", "train", *argv]


def mpiexec_prefix(n: int, mpiexec: str | None = None) -> list[str]:
    """``mpiexec -n N``, plus ``--oversubscribe`` (and ``--allow-run-as-root`` as root) for Open MPI."""
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError("no mpiexec found: pip install 'trainkit[mpi]' (mpi4py and the mpich wheel)")
    flags: list[str] = []
    try:
        version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    if "Open MPI" in version or "OpenRTE" in version:
        flags.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    return [mpiexec, "-n", str(n), *flags]


def launch(n: int, argv: list[str]) -> int:
    """Run ``trainkit train <argv>`` on ``n`` processes of this machine; the job's exit code."""
    command = mpiexec_command(n, argv)
    print(f"trainkit: starting {n} processes: {' '.join(command[:3])} ... python -m mpi4py -m trainkit train",
          flush=True)
    env = {**os.environ, LAUNCHED_ENV: "1"}
    return subprocess.call(command, env=env)


def quiet_rank_overrides() -> tuple[list[str], str]:
    """Hydra overrides for a rank above 0, and the temporary directory they point at.

    Rank 0 alone owns the run directory (config, log, checkpoints, TensorBoard); the
    other ranks give Hydra an empty temporary directory (removed after the job), write
    no ``.hydra`` config and set up no log files.
    """
    tmp = tempfile.mkdtemp(prefix="trainkit-rank-")
    text = tmp.replace("\\", "\\\\").replace("'", "\\'")
    return [f"hydra.run.dir='{text}'", f"hydra.sweep.dir='{text}'", "hydra.output_subdir=null",
            "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"], tmp
