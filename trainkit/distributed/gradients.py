"""Gradient all-reduce: one collective per optimizer bucket, right after backward.

Element-wise optimizers (SGD, Adam, AdamW, ...) already hold every gradient of a
param group in one flat buffer per dtype and device (:class:`~trainkit.optim.flat.FlatBucket`);
that buffer is reduced in place, so a step costs one ``Allreduce`` per bucket,
not one per parameter. Optimizers without flat buffers (LBFGS, Adafactor, Muon,
SparseAdam) get the fallback: their gradients are packed into one buffer per
dtype and device, reduced once and unpacked.

A parameter without a gradient on this rank (``grad is None``: unused in this
rank's forward pass) contributes zeros and receives the reduced gradient, as in
torch DDP with ``find_unused_parameters=True``; frozen parameters
(``requires_grad=False``) are left alone.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..optim.flat import LayoutChanged
from .comm import world

__all__ = ["all_reduce_gradients", "sum_gradients"]


def all_reduce_gradients(optimizer, num_samples: float | None = None, comm=None) -> None:
    """Make every rank's gradients the global ones, for a hand-written loop (call after ``backward``).

    Args:
        optimizer: the optimizer whose parameters' gradients are reduced.
        num_samples: the samples of this rank's batch. Given, gradients are weighted by
            ``num_samples / global count`` (exact for uneven shards and a last partial
            batch, one extra scalar collective); None averages them (``1 / world size``).
        comm: the communicator (default :func:`trainkit.distributed.comm.world`).
    """
    comm = world() if comm is None else comm
    if comm.size == 1:
        return
    if num_samples is None:
        scale = 1.0 / comm.size
    else:
        total = float(comm.reduce_values([num_samples])[0])
        scale = float(num_samples) / total if total else 0.0
    sum_gradients(optimizer, comm, scale)


def sum_gradients(optimizer, comm, scale: float = 1.0) -> None:
    """Scale this rank's gradients by ``scale`` and replace them by their sum over all ranks."""
    if comm.size == 1:
        return
    loose = []
    if hasattr(optimizer, "flat_buckets"):
        for bucket, params in optimizer.flat_buckets():
            if not _reduce_bucket(bucket, params, comm, scale):
                loose.extend(params)
    else:
        loose = [p for g in optimizer.param_groups for p in g["params"]]
    if loose:
        _reduce_packed([p for p in loose if p.requires_grad], comm, scale)


def _reduce_bucket(bucket, params, comm, scale: float) -> bool:
    """Reduce one flat gradient buffer in place; False when the bucket's layout changed (use the fallback)."""
    ready = bucket.ready(params)  # the usual case: every gradient written by backward into the buffer
    if not ready:
        try:
            present = bucket.sync(params)  # reassigned gradients are copied into the buffer
        except LayoutChanged:
            return False
        for k, has in enumerate(present):
            if not has:
                bucket.grad_views[k][...] = 0  # unused here (or frozen): contributes nothing
    if scale != 1.0:
        bucket.grad *= scale
    comm.all_reduce(bucket.grad)
    if not ready:
        for p, view in zip(params, bucket.grad_views):
            if p.requires_grad and p.grad_array is not view:
                p.grad_array = view
    return True


def _reduce_packed(params, comm, scale: float) -> None:
    """The fallback: pack the gradients of each dtype/device into one buffer, reduce it once, unpack."""
    groups: dict = {}
    for p in params:
        xp = get_array_module(p.array)
        groups.setdefault((str(p.array.dtype), id(xp), str(getattr(p, "device", "cpu"))), []).append(p)
    for members in groups.values():
        xp = get_array_module(members[0].array)
        sizes = [int(p.array.size) for p in members]
        buf = xp.zeros(sum(sizes), dtype=members[0].array.dtype)
        offset = 0
        for p, n in zip(members, sizes):
            if p.grad_array is not None:
                buf[offset:offset + n] = p.grad_array.reshape(-1)
            offset += n
        if scale != 1.0:
            buf *= scale
        comm.all_reduce(buf)
        offset = 0
        for p, n in zip(members, sizes):
            chunk = buf[offset:offset + n].reshape(p.array.shape)
            if p.grad_array is not None and p.grad_array.shape == chunk.shape:
                p.grad_array[...] = chunk
            else:
                p.grad_array = chunk.copy()
            if getattr(p, "grad_indices", None) is not None:
                p.grad_indices = None
            offset += n
