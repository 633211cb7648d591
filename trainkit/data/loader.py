"""``DataLoader``: seeded, resumable mini-batches of Tensors.

The order of an epoch depends only on ``(seed, epoch)``: the permutation is
drawn from ``numpy.random.default_rng([seed, epoch])``, never from global
state. The loader records its position as ``(epoch, batch)`` where ``batch``
counts the batches already handed out this epoch, so a checkpoint taken after
any batch resumes at exactly the next one (bit-identical continuation).

Iteration protocol (as torch, where every ``iter(loader)`` is a fresh pass):
    * ``iter(loader)`` yields a whole epoch. On a fresh loader, or once the
      previous iteration ran to its end, that is the current epoch from batch 0.
      When the previous iteration was abandoned part-way (a ``break``), the new
      iteration does not pick up the leftovers: it starts the next epoch, so
      ``for batch in loader`` never silently yields a short epoch.
    * Mid-epoch resumption is one-shot: right after ``load_state_dict`` the next
      ``iter(loader)`` yields the *remaining* batches of the restored epoch,
      starting at the restored position (none when the position is already at
      the epoch's end). This is what checkpoint/resume needs, and it is the only
      way to continue a half-used epoch.
    * When an iteration runs to its end the loader advances to the next epoch.
    * ``set_epoch(e)`` makes the next iteration epoch ``e`` from its first batch,
      except that it keeps a restored position pending in epoch ``e``, so a loop
      that calls ``set_epoch`` at each epoch start does not undo a resume.

A state saved right after the last batch of epoch ``e`` (before the loop saw
the end) is ``(e, len(loader))``: restoring it and iterating yields no batch
and then moves to epoch ``e + 1``, exactly as the uninterrupted loop did.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from .collate import default_collate
from .sharding import shard_indices, shard_size

__all__ = ["DataLoader"]

_STATE_KEYS = ("epoch", "batch", "seed")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DataLoader: {name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"DataLoader: {name} must be >= {minimum}, got {value}")
    return int(value)


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of ``epoch`` for a loader seeded with ``seed`` (a pure function)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, epoch])
    return rng.permutation(n)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of Tensors.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``). Datasets
            with ``get_batch(indices)`` (``TensorDataset``, the built-ins, their
            ``Subset``s) are indexed once per batch with no per-sample Python loop.
        batch_size: samples per batch.
        shuffle: draw a new permutation each epoch from ``(seed, epoch)``.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: the seed of the shuffling order (independent of ``manual_seed``).
        collate_fn: ``collate_fn(list_of_samples) -> batch``; when given, samples
            are fetched one by one with ``dataset[i]``, as in PyTorch.
        num_workers: accepted for PyTorch compatibility; only 0 is meaningful,
            larger values load in-process as well (data here is in-memory arrays).
        pin_memory: accepted for PyTorch compatibility and ignored.
        num_replicas, rank: read only this rank's share of each epoch (data-parallel
            training; torch ``DistributedSampler`` semantics, see :meth:`shard`).

    Batches are tuples of CPU Tensors (one per field), floating features as
    float32 and integer labels as int64 unless the dataset holds Tensors of
    another dtype. Only one iteration of a loader should be live at a time: a
    new ``iter(loader)`` starts a new pass (the next epoch if the current one
    was left unfinished) and an older iterator stops. Mid-epoch resumption
    happens only on the first ``iter()`` after ``load_state_dict``.

    >>> import numpy as np
    >>> from trainkit.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=4)
    >>> [len(y) for _, y in loader], loader.state_dict()
    ([4, 4, 2], {'epoch': 1, 'batch': 0, 'seed': 0})
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int = 0, collate_fn=None, num_workers: int = 0, pin_memory: bool = False,
                 num_replicas: int = 1, rank: int = 0):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must define __getitem__ and __len__, got {type(dataset).__name__}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable or None, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = _check_int("seed", seed, -(2**63))
        self.collate_fn = collate_fn
        self.num_workers = _check_int("num_workers", num_workers, 0)
        self.pin_memory = bool(pin_memory)
        self._epoch = 0
        self._batch = 0
        self._iteration = 0  # bumped by each __iter__; older iterators notice and stop
        self._resume = False  # True between load_state_dict and the next __iter__
        self.num_replicas, self.rank, self.pad = 1, 0, True
        self.shard(num_replicas, rank)

    def shard(self, num_replicas: int, rank: int, pad: bool = True) -> None:
        """Read only rank ``rank``'s share of each epoch, as torch's ``DistributedSampler``.

        The epoch's global order depends on ``(seed, epoch)`` alone; rank ``r`` takes
        positions ``r, r + W, r + 2W, ...``, so the ``k``-th batches of the ``W`` ranks
        together are the ``k``-th batch of one process with batch size ``W * batch_size``.
        ``pad=True`` (training): every rank gets as many batches (the order is padded by
        repeating its first samples, or cut with ``drop_last``, when ``W`` does not divide
        the dataset); ``pad=False`` (validation): nothing is repeated (see
        :mod:`trainkit.data.sharding`). ``shard(1, 0)`` undoes it.
        """
        num_replicas = _check_int("num_replicas", num_replicas, 1)
        rank = _check_int("rank", rank, 0)
        if rank >= num_replicas:
            raise ValueError(f"DataLoader: rank must be < num_replicas={num_replicas}, got {rank}")
        self.num_replicas, self.rank, self.pad = num_replicas, rank, bool(pad)

    # ------------------------------------------------------------------ size
    def _num_samples(self) -> int:
        n = len(self.dataset)
        if self.num_replicas == 1:
            return n
        return shard_size(n, self.num_replicas, self.rank, self.pad, self.drop_last)

    def __len__(self) -> int:
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch the loader is in; with ``batch == len(loader)`` it is finished but not yet left."""
        return self._epoch

    # ------------------------------------------------------------- position
    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch``, from its first batch.

        Call it at the start of every epoch (as with torch's samplers). The one
        exception: a position restored by ``load_state_dict`` in this same epoch
        stays pending, so the resumed epoch continues where the checkpoint left it.
        """
        epoch = _check_int("epoch", epoch, 0)
        if self._resume and epoch == self._epoch:
            return
        self._epoch, self._batch, self._resume = epoch, 0, False

    def state_dict(self) -> dict:
        """``{"epoch", "batch", "seed"}``: where the next batch comes from.

        ``batch`` counts the batches of ``epoch`` already yielded (up to
        ``len(loader)``); once an iteration has run to its end the state is
        ``(epoch + 1, 0)``.
        """
        return {"epoch": self._epoch, "batch": self._batch, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore a position from ``state_dict()``; the next ``iter()`` (only) resumes there."""
        if not isinstance(state, dict):
            raise TypeError(f"DataLoader.load_state_dict expects a dict, got {type(state).__name__}")
        missing = [k for k in _STATE_KEYS if k not in state]
        unexpected = sorted(str(k) for k in state if k not in _STATE_KEYS)
        if missing or unexpected:
            raise KeyError(
                f"DataLoader.load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                f"expected exactly {list(_STATE_KEYS)}"
            )
        epoch = _check_int("state['epoch']", state["epoch"], 0)
        batch = _check_int("state['batch']", state["batch"], 0)
        seed = _check_int("state['seed']", state["seed"], -(2**63))
        if batch > len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: state['batch'] = {batch} exceeds the {len(self)} "
                "batches per epoch of this loader (was the dataset or batch_size changed?)"
            )
        self._epoch, self._batch, self.seed = epoch, batch, seed
        self._resume = True
        self._iteration += 1  # an iterator started before the load must not continue

    # ------------------------------------------------------------- iteration
    def _order(self, epoch: int):
        n = len(self.dataset)
        order = epoch_permutation(n, self.seed, epoch) if self.shuffle else None
        if self.num_replicas > 1:
            return shard_indices(order, n, self.num_replicas, self.rank, self.pad, self.drop_last)
        return order

    def _fetch(self, order, start: int, stop: int):
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            indices = slice(start, stop) if order is None else order[start:stop]
            return tuple(Tensor._wrap(a) for a in self.dataset.get_batch(indices))
        positions = range(start, stop) if order is None else order[start:stop].tolist()
        samples = [self.dataset[i] for i in positions]
        collate = self.collate_fn or default_collate
        return collate(samples)

    def __iter__(self):
        self._iteration += 1
        if self._resume:
            self._resume = False  # one-shot: continue the restored epoch
        elif self._batch > 0:
            self._epoch, self._batch = self._epoch + 1, 0  # abandoned epoch: a fresh pass
        return self._run(self._iteration)

    def _run(self, iteration: int):
        epoch = self._epoch
        order = self._order(epoch)
        n, bs, total = self._num_samples(), self.batch_size, len(self)
        while self._iteration == iteration and self._batch < total:
            b = self._batch
            batch = self._fetch(order, b * bs, min((b + 1) * bs, n))
            self._batch = b + 1  # counted before yielding: state_dict() names the *next* batch
            yield batch
        if self._iteration == iteration:
            self._epoch, self._batch = epoch + 1, 0

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"seed={self.seed}" + (f", num_replicas={self.num_replicas}, rank={self.rank}"
                                       if self.num_replicas > 1 else "") + ")")
