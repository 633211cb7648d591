"""How many CPU threads a process's numerical libraries use: BLAS/OpenMP (numpy) and numba.

Several processes on one machine (the jobs of a parallel sweep, the ranks of a
data-parallel run) each start with as many threads as there are cores; together
they oversubscribe the cores and every job runs slower than alone. A job limits
itself with :func:`limit_threads` (BLAS through threadpoolctl, numba through
``numba.set_num_threads`` or, before numba is imported, ``NUMBA_NUM_THREADS``).
"""
from __future__ import annotations

import os
import sys

__all__ = ["blas_spin_hint", "cpu_count", "limit_threads", "threads_per_job"]


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_job(parallel_jobs: int) -> int:
    """Threads each of ``parallel_jobs`` processes sharing this machine's cores should use (at least 1)."""
    return max(1, cpu_count() // max(1, int(parallel_jobs)))


def limit_threads(n: int) -> None:
    """Use at most ``n`` threads in BLAS/OpenMP and in numba from now on, in this process."""
    n = max(1, int(n))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    os.environ["NUMBA_NUM_THREADS"] = str(n)  # read when numba is first imported
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def blas_spin_hint() -> str | None:
    """A one-line hint when numpy was imported before trainkit with a multi-threaded OpenBLAS, else None.

    trainkit sets ``OPENBLAS_THREAD_TIMEOUT`` at import (see ``trainkit/_process_env.py``), but
    OpenBLAS reads it only when numpy loads it; after ``import numpy`` first its idle workers spin
    ~0.1 s after every matrix product and take cores from conv2d's threads and numba's kernels (the
    CIFAR CNN step on 2 cores: 85 ms instead of 50). The user's own variable counts as a choice.
    """
    from . import _process_env

    if _process_env.OPENBLAS_APPLIED or _process_env.OPENBLAS_USER_SET:
        return None
    from threadpoolctl import threadpool_info

    if not any(i.get("internal_api") == "openblas" and i.get("num_threads", 1) > 1 for i in threadpool_info()):
        return None
    return ("numpy was imported before trainkit, so OpenBLAS's idle threads spin for ~0.1 s after each matrix "
            "product and slow trainkit's CPU kernels (up to 1.7x on few cores): import trainkit before numpy, "
            f"or set OPENBLAS_THREAD_TIMEOUT={_process_env.OPENBLAS_THREAD_TIMEOUT} in the environment")
