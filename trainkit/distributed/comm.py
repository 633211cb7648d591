"""Communicators: rank, world size, local rank and the collectives, over mpi4py (numpy) and NCCL (cupy).

* :class:`LocalComm`: one process (world size 1); every collective returns its input.
* :class:`MPIComm`: mpi4py's ``COMM_WORLD``; arrays are reduced in place with
  ``Allreduce(IN_PLACE, ...)``. cupy arrays go through the host unless NCCL is used.
* :class:`NCCLComm`: an MPI communicator plus a ``cupy.cuda.nccl.NcclCommunicator``
  for cupy arrays (the NCCL unique id is broadcast over MPI; each process takes
  GPU ``local_rank``, its rank among the processes of its machine from
  ``COMM_WORLD.Split_type(COMM_TYPE_SHARED)``). Host arrays and the small control
  messages (flags, counts, losses) still go over MPI.

:func:`world` is the process's communicator, made on first use: MPI when mpi4py
is installed (world size 1 outside ``mpiexec``), else :class:`LocalComm`.
Start jobs as ``mpiexec -n N python -m mpi4py -m trainkit train ...`` (or
``python -m mpi4py your_script.py``): ``-m mpi4py`` turns an uncaught exception
on one rank into ``MPI_Abort``, which ends every rank, instead of leaving the
others waiting in a collective.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module

__all__ = ["LocalComm", "MPIComm", "NCCLComm", "mpi_unavailable_reason", "set_world", "world"]

_OPS = ("sum", "max", "min")
_WORLD: list = []


def _check_op(op: str) -> str:
    if op not in _OPS:
        raise ValueError(f"unknown reduction {op!r}; use one of {', '.join(_OPS)}")
    return op


class LocalComm:
    """A world of one process: rank 0 of 1; collectives return their input unchanged."""

    backend = "local"
    rank = 0
    size = 1
    local_rank = 0

    def all_reduce(self, array, op: str = "sum"):
        """Reduce ``array`` over all ranks in place (``op``: sum, max, min); returns it."""
        _check_op(op)
        return array

    def broadcast(self, array, root: int = 0):
        """Overwrite ``array`` in place with rank ``root``'s values; returns it."""
        return array

    def barrier(self) -> None:
        """Wait until every rank got here."""

    def reduce_values(self, values, op: str = "sum") -> np.ndarray:
        """A few host numbers (flags, counts, losses) reduced over all ranks, as a float64 array."""
        return self.all_reduce(np.array(values, dtype=np.float64), op)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"


class MPIComm(LocalComm):
    """Collectives over an mpi4py communicator (``COMM_WORLD`` by default)."""

    backend = "mpi"

    def __init__(self, comm=None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = local.Get_rank()
        self.local_size = local.Get_size()
        local.Free()
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def all_reduce(self, array, op: str = "sum"):
        _check_op(op)
        if self.size == 1:
            return array
        xp = get_array_module(array)
        if xp is not np:  # a cupy array without NCCL: through the host
            host = xp.asnumpy(array)
            self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self._ops[op])
            array[...] = xp.asarray(host)
            return array
        if not array.flags.c_contiguous:
            raise ValueError("all_reduce needs a contiguous array")
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self._ops[op])
        return array

    def broadcast(self, array, root: int = 0):
        if self.size == 1:
            return array
        xp = get_array_module(array)
        if xp is not np:
            host = xp.asnumpy(array)
            self.comm.Bcast(host, root=root)
            array[...] = xp.asarray(host)
            return array
        if array.flags.c_contiguous:
            self.comm.Bcast(array, root=root)
        else:
            copy = np.ascontiguousarray(array)
            self.comm.Bcast(copy, root=root)
            array[...] = copy
        return array

    def barrier(self) -> None:
        self.comm.Barrier()


class NCCLComm(MPIComm):
    """MPI for host arrays and control messages, NCCL for cupy arrays.

    Args:
        comm: the mpi4py communicator (``COMM_WORLD``).
        nccl: the ``cupy.cuda.nccl`` module (tests pass a stand-in).
        cuda: ``cupy.cuda`` (``Device``, ``get_current_stream``); tests pass a stand-in.
    """

    backend = "nccl"

    def __init__(self, comm=None, nccl=None, cuda=None):
        super().__init__(comm)
        if nccl is None or cuda is None:
            import cupy.cuda
            import cupy.cuda.nccl

            nccl, cuda = cupy.cuda.nccl, cupy.cuda
        self.nccl, self.cuda = nccl, cuda
        cuda.Device(self.local_rank).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._nccl_ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        self._nccl_types = {
            "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64,
            "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64, "uint8": nccl.NCCL_UINT8,
        }

    def _on_device(self, array) -> bool:
        return get_array_module(array) is not np

    def _dtype(self, array) -> int:
        code = self._nccl_types.get(str(array.dtype))
        if code is None:
            raise TypeError(f"NCCL cannot reduce arrays of dtype {array.dtype}")
        return code

    def all_reduce(self, array, op: str = "sum"):
        _check_op(op)
        if not self._on_device(array) or self.size == 1:
            return super().all_reduce(array, op)
        stream = self.cuda.get_current_stream().ptr
        ptr = array.data.ptr
        self.nccl_comm.allReduce(ptr, ptr, array.size, self._dtype(array), self._nccl_ops[op], stream)
        return array

    def broadcast(self, array, root: int = 0):
        if not self._on_device(array) or self.size == 1:
            return super().broadcast(array, root)
        stream = self.cuda.get_current_stream().ptr
        self.nccl_comm.bcast(array.data.ptr, array.size, self._dtype(array), root, stream)
        return array


def mpi_unavailable_reason() -> str | None:
    """Why mpi4py cannot be used here (None when it can)."""
    try:
        import mpi4py
    except ImportError:
        return "mpi4py is not installed (pip install 'trainkit[mpi]')"
    return None


def world(device_type: str = "cpu"):
    """The process's communicator (made on first use and kept).

    ``device_type="cuda"`` makes an :class:`NCCLComm` when the world has more than
    one process (NCCL is only needed between GPUs); otherwise MPI, or a
    :class:`LocalComm` when mpi4py is not installed.
    """
    if _WORLD:
        comm = _WORLD[0]
        if device_type == "cuda" and comm.backend == "mpi" and comm.size > 1:
            comm = NCCLComm(comm.comm)
            _WORLD[0] = comm
        return comm
    if mpi_unavailable_reason() is not None:
        comm = LocalComm()
    else:
        comm = MPIComm()
        if device_type == "cuda" and comm.size > 1:
            comm = NCCLComm(comm.comm)
    _WORLD.append(comm)
    return comm


def set_world(comm) -> None:
    """Use ``comm`` as the process's communicator from now on (tests; sub-communicators)."""
    _WORLD[:] = [comm]
