"""Run a batch's cache-sized chunks on a few Python threads, BLAS single-threaded meanwhile.

conv2d on CPU works through its batch chunk by chunk (see ``conv.py``). Each
chunk's GEMMs are small, and an OpenBLAS call on two threads per chunk makes
the threads meet (and spin) hundreds of times per step; on a busy machine that
costs several times the work itself. Instead the batch is split into one
contiguous range of chunks per core and each range runs on its own thread
with OpenBLAS limited to one thread (numpy's copies, its BLAS calls and the
``nogil`` numba kernels release the GIL). Every partial result is reduced in
range order, so the numbers do not depend on thread timing.

The worker count is OpenBLAS's own thread count (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` set it); with one thread the ranges run one after another
on the caller. Without ``threadpoolctl`` to set BLAS's thread count, conv2d
does not chunk at all (``can_split``): one chunk per tiny multi-threaded GEMM
was several times slower than the whole batch on a busy machine.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return ThreadpoolController()


def workers() -> int:
    """Threads to split a batch over: BLAS's thread count, 1 when it cannot be limited."""
    ctl = _controller()
    if ctl is None:
        return 1
    blas = ctl.select(user_api="blas")
    return max(1, min((lib.num_threads for lib in blas.lib_controllers), default=1))


def can_split() -> bool:
    """Whether chunks can run with BLAS single-threaded (threadpoolctl importable); else don't chunk."""
    return _controller() is not None


@functools.lru_cache(maxsize=None)
def _pool(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="trainkit-conv")


def run_ranges(n: int, chunk: int, body):
    """``[body(lo, hi) for each range]`` over ``[0, n)`` split into per-thread runs of whole chunks."""
    count = min(workers(), -(-n // chunk))
    if count <= 1 or not _LOCK.acquire(blocking=False):  # nested or concurrent use: run inline
        return [body(0, n)]
    try:
        chunks = -(-n // chunk)
        bounds = [min(n, (chunks * i // count) * chunk) for i in range(count + 1)]
        with _controller().limit(limits=1, user_api="blas") if count > 1 else contextlib.nullcontext():
            futures = [_pool(count).submit(body, lo, hi) for lo, hi in zip(bounds, bounds[1:])]
            return [f.result() for f in futures]
    finally:
        _LOCK.release()
