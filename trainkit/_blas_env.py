"""Environment defaults that OpenBLAS reads once, when numpy first loads it.

Imported by ``trainkit/__init__.py`` before numpy. After each multi-threaded
matrix product OpenBLAS's worker threads keep spinning for about 2**28 CPU
cycles (~0.1 s) waiting for the next one; in a training step the next BLAS call
rarely comes that soon, while trainkit's own threads (numba's kernels, conv2d's
chunk threads) want those very cores. On the project's 2-core machine the CIFAR
CNN step took 110 ms with the default and 67-75 ms with the workers sleeping
after 2**20 cycles (~0.4 ms); the MLP step was unchanged at 1.5 ms (a timeout
of 2**4 slowed it to 2.9 ms: workers woken for every small product).

The user's own ``OPENBLAS_THREAD_TIMEOUT`` wins. When numpy was imported
before trainkit the setting comes too late for this process (OpenBLAS has no
run-time setter) but still reaches the processes it starts (sweep jobs, ranks):
``APPLIED`` says whether this process got it.
"""
from __future__ import annotations

import os
import sys

OPENBLAS_THREAD_TIMEOUT = "20"  # log2 of the CPU cycles an idle OpenBLAS worker spins before sleeping

APPLIED = "numpy" not in sys.modules and "OPENBLAS_THREAD_TIMEOUT" not in os.environ
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_THREAD_TIMEOUT)
