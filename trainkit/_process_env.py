"""Process-wide defaults for numerical work, set when trainkit is imported.

Imported by ``trainkit/__init__.py`` first, before numpy. Each is a default:
the user's own environment variable wins, and each is measured on the
project's 2-core machine with the CIFAR CNN step (``benchmarks/run.py``).

OpenBLAS idle threads. After each multi-threaded matrix product OpenBLAS's
workers keep spinning for about 2**28 CPU cycles (~0.1 s) waiting for the next
one; in a training step the next BLAS call rarely comes that soon, while
trainkit's own threads (numba's kernels, conv2d's chunk threads) want those
very cores. Step: 110 ms with the default, 67-75 ms with the workers sleeping
after 2**20 cycles (~0.4 ms); the MLP step stayed at 1.5 ms (2**4 slowed it to
2.9 ms: workers woken for every small product). OpenBLAS reads
``OPENBLAS_THREAD_TIMEOUT`` once, when numpy loads it: if numpy was imported
before trainkit the setting comes too late for this process (there is no
run-time setter) but still reaches the processes it starts (sweep jobs, ranks).
``OPENBLAS_APPLIED`` says whether this process got it.

glibc malloc. Arrays above glibc's mmap threshold (128 KiB, adapting up to
32 MiB) are mapped fresh on every allocation and unmapped on free, so each step
page-faults its activations and gradients back in (about 16 MB of faults per CNN
step). With the threshold at 32 MiB and freed memory kept up to 128 MiB per
arena for reuse, the step went from 55.6 to 47-51 ms. The cost: a process keeps
up to that much freed memory instead of returning it to the OS. Skipped when
any ``MALLOC_*`` tuning variable is set, or off glibc. ``MALLOC_TUNED`` says
whether it was applied.
"""
from __future__ import annotations

import ctypes
import os
import sys

OPENBLAS_THREAD_TIMEOUT = "20"  # log2 of the CPU cycles an idle OpenBLAS worker spins before sleeping
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 128 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                     "GLIBC_TUNABLES")

OPENBLAS_USER_SET = "OPENBLAS_THREAD_TIMEOUT" in os.environ
OPENBLAS_APPLIED = "numpy" not in sys.modules and not OPENBLAS_USER_SET
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_THREAD_TIMEOUT)


def _tune_glibc_malloc() -> bool:
    if not sys.platform.startswith("linux") or any(v in os.environ for v in _MALLOC_VARIABLES):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no such symbol)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


MALLOC_TUNED = _tune_glibc_malloc()
