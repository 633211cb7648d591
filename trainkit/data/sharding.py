"""Which samples of an epoch one rank of a data-parallel run reads (torch ``DistributedSampler`` semantics).

The epoch's global order (a permutation drawn from ``(seed, epoch)``, or ``0..n-1``)
does not depend on the number of ranks. Rank ``r`` of ``W`` takes every ``W``-th
position starting at ``r``, so the ``k``-th batches of all ranks together are the
``k``-th batch of one process with a ``W`` times larger batch, for any ``W``.

``pad=True`` (training, as torch): every rank gets the same number of samples, so
every rank runs the same number of batches; without ``drop_last`` the order is
padded by repeating its first samples (``ceil(n / W) * W`` positions; those few
samples are seen twice per epoch, exactly as with torch's sampler), with
``drop_last`` its tail is cut to a multiple of ``W``. When ``W`` divides ``n``
nothing is padded or cut. ``pad=False`` (evaluation): ranks get ``n // W`` or
``n // W + 1`` samples and nothing is repeated, so metrics summed over the ranks
are those of one process over the whole set.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["shard_indices", "shard_size"]


def shard_size(n: int, num_replicas: int, rank: int, pad: bool = True, drop_last: bool = False) -> int:
    """How many samples rank ``rank`` of ``num_replicas`` gets from a dataset of ``n``."""
    if pad:
        return n // num_replicas if drop_last else math.ceil(n / num_replicas)
    return len(range(rank, n, num_replicas))


def shard_indices(order, n: int, num_replicas: int, rank: int, pad: bool = True,
                  drop_last: bool = False) -> np.ndarray:
    """The positions of dataset items rank ``rank`` reads, in order.

    Args:
        order: the epoch's global order (an index array of length ``n``), or None for ``0..n-1``.
        pad, drop_last: see the module docstring.
    """
    order = np.arange(n) if order is None else np.asarray(order)
    if pad:
        per_rank = shard_size(n, num_replicas, rank, True, drop_last)
        total = per_rank * num_replicas
        if total > n:
            repeats = math.ceil((total - n) / max(n, 1))
            order = np.concatenate([order] + [order] * repeats)[:total]
        else:
            order = order[:total]
    return order[rank::num_replicas]
