"""Data-parallel training: one model on several processes and machines (MPI on CPU, NCCL on GPU).

Run ``mpiexec -n 2 python -m mpi4py -m trainkit train trainer.strategy=ddp ...``, or in
Python ``Trainer(..., strategy="ddp")`` under ``mpiexec -n 2 python -m mpi4py script.py``.
A hand-written loop calls :func:`all_reduce_gradients` after ``backward``, as in a torch DDP
script. See the README, "Training on several processes / machines".

* :mod:`.comm`: the communicators (``LocalComm``, ``MPIComm``, ``NCCLComm``) and :func:`world`;
* :mod:`.gradients`: one all-reduce per optimizer bucket;
* :mod:`.strategy`: what the Trainer does under ``strategy="ddp"``;
* :mod:`.launch`: ``trainer.num_processes=N`` starts ``mpiexec`` on this machine.
"""
from __future__ import annotations

from .comm import LocalComm, MPIComm, NCCLComm, world
from .gradients import all_reduce_gradients
from .strategy import (
    DataParallel,
    SingleProcess,
    WorldSizeError,
    broadcast_module,
    make_strategy,
)

__all__ = [
    "DataParallel", "LocalComm", "MPIComm", "NCCLComm", "SingleProcess", "WorldSizeError", "all_reduce",
    "all_reduce_gradients", "barrier", "broadcast", "broadcast_module", "get_local_rank", "get_rank",
    "get_world_size", "make_strategy", "world",
]


def get_rank() -> int:
    """This process's rank (0 outside mpiexec)."""
    return world().rank


def get_world_size() -> int:
    """The number of processes (1 outside mpiexec)."""
    return world().size


def get_local_rank() -> int:
    """This process's rank among the processes on its machine (its GPU under NCCL)."""
    return world().local_rank


def all_reduce(array, op: str = "sum"):
    """Reduce ``array`` (numpy or cupy) over all processes in place; ``op``: sum, max, min."""
    return world(_kind(array)).all_reduce(array, op)


def broadcast(array, root: int = 0):
    """Overwrite ``array`` in place with process ``root``'s values."""
    return world(_kind(array)).broadcast(array, root)


def barrier() -> None:
    """Wait until every process got here."""
    world().barrier()


def _kind(array) -> str:
    """``cuda`` for a cupy array (NCCL between GPUs), else ``cpu``."""
    import numpy as np

    from ..backend import get_array_module

    return "cpu" if get_array_module(array) is np else "cuda"
