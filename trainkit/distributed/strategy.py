"""How a Trainer runs: one process (:class:`SingleProcess`) or data-parallel over MPI/NCCL (:class:`DataParallel`).

The Trainer calls its strategy at fixed points; the single-process strategy does
nothing at any of them, so a plain run is unchanged. Under ``DataParallel``
(``Trainer(strategy="ddp")``, ``trainkit train trainer.strategy=ddp``):

* the train loader reads this rank's shard (torch ``DistributedSampler``
  semantics, :mod:`trainkit.data.sharding`), the validation loader an unpadded one;
* at the start of a fit, after ``resume``/``init_from``, rank 0's weights and
  buffers are broadcast; only rank 0 keeps a run directory and the plugins marked
  ``rank_zero_only`` (checkpoints, TensorBoard, progress bar); checkpoints are
  written by rank 0 and read by every rank;
* each batch's loss is reduced over the ranks (one scalar collective) into the
  global batch mean, which the ``on_train_loss`` hooks (the NaN guard), the
  progress bar and ``train/loss`` see; this rank's loss is scaled by its share
  of the global batch, ``n_rank / n_global``, before ``backward``;
* before the gradient transforms, the gradients are summed over the ranks, one
  collective per optimizer bucket (:mod:`.gradients`), once per update;
* every control-flow decision goes through :meth:`agree` (any rank says yes ->
  all do): skipped batches and updates, ``should_stop``;
* validation sums (loss, count, correct) are reduced, so the metrics are those
  of one process over the whole validation set.

BatchNorm keeps per-rank batch statistics (torch DDP's default); the running
statistics of rank 0 are what checkpoints hold.
"""
from __future__ import annotations

import logging

import numpy as np

from ..checkpoint import CheckpointError
from ..data.sharding import shard_size
from .comm import mpi_unavailable_reason, world
from .gradients import sum_gradients

__all__ = ["STRATEGIES", "DataParallel", "SingleProcess", "WorldSizeError", "broadcast_module", "make_strategy"]

log = logging.getLogger("trainkit.distributed")


_SAID: list = []  # the world-size-1 line is said once per process


def _errors_only(record) -> bool:
    return record.levelno >= logging.ERROR


def _quiet_logs() -> None:
    """Ranks above 0 are quiet: trainkit's log records below ERROR are dropped (rank 0 reports)."""
    logger = logging.getLogger("trainkit")
    if _errors_only not in logger.filters:
        logger.addFilter(_errors_only)


class WorldSizeError(CheckpointError):
    """A checkpoint written mid-epoch by N processes cannot continue with this number of processes."""


class SingleProcess:
    """One process: every hook is a no-op (the Trainer's default)."""

    name = "single"
    rank = 0
    world_size = 1
    is_main = True

    def device_for(self, device):
        """The device this rank trains on, given the requested one."""
        return device

    def prepare(self, trainer) -> None:
        """At construction: shard the loaders (nothing to do here)."""

    def shard_loaders(self, train_loader, val_loader=None) -> None:
        """Give each loader this rank's share (nothing to do here)."""

    def fit_plugins(self, trainer, objects: list) -> list:
        """The per-fit plugin objects this rank runs."""
        return objects

    def setup(self, trainer) -> None:
        """After resume/init_from, before the first batch: make the ranks' weights identical."""

    def batch_loss(self, loss, batch):
        """The loss the hooks see (the global batch mean under DDP)."""
        return loss

    def loss_scale(self, accumulate: int) -> float:
        """What this rank's loss is multiplied by before ``backward``."""
        return 1.0 / accumulate

    def reduce_gradients(self, optimizer) -> None:
        """Make the gradients global (once per update, before the gradient transforms)."""

    def agree(self, flag) -> bool:
        """True on every rank when ``flag`` is true on any rank (one small collective under DDP)."""
        return bool(flag)

    def reduce_sums(self, values):
        """Sums (validation loss, count, correct, ...) over all ranks."""
        return values

    def checkpoint_info(self, trainer) -> dict:
        """What a checkpoint records about the processes: world size and per-rank batch size."""
        return {"world_size": self.world_size, "batch_size": getattr(trainer.train_loader, "batch_size", None)}

    def loader_state(self, trainer, state: dict, saved: dict, path) -> dict:
        """The loader position to restore from a checkpoint whose trainer counters are ``saved``.

        The same world size: as saved. Another: an epoch boundary works as is; a position
        inside an epoch is recomputed from the samples already read (``batch * batch_size
        * world_size`` as saved) when they fill whole global batches of this run;
        otherwise :class:`WorldSizeError` says how to continue.
        """
        was, now = int(saved.get("world_size", 1)), self.world_size
        batch = int(state["batch"])
        loader = trainer.train_loader
        if was == now or batch == 0 or not hasattr(loader, "dataset"):
            return state
        was_bs = int(saved.get("batch_size") or loader.batch_size)
        per_rank = shard_size(len(loader.dataset), was, 0, True, loader.drop_last)
        was_len = per_rank // was_bs if loader.drop_last else -(-per_rank // was_bs)
        read, global_batch = batch * was_bs * was, loader.batch_size * now
        if batch >= was_len:
            converted = len(loader)
        elif read % global_batch == 0:
            converted = read // global_batch
        else:
            raise WorldSizeError(
                f"cannot resume from {path} with {now} process(es): it was written by {was} at batch {batch} of "
                f"epoch {state['epoch']} ({read} samples read), which is not a whole number of global batches of "
                f"{global_batch} here. Resume with `mpiexec -n {was} ...` (and the same batch size), or from a "
                "checkpoint written at an epoch end (callbacks.checkpointing.every_n_epochs), or start a fresh run "
                f"from its weights with init_from={path}"
            )
        log.info("resuming a run of %d process(es) with %d: loader position batch %d -> %d", was, now, batch,
                 converted)
        return {**state, "batch": converted}


class DataParallel(SingleProcess):
    """Data-parallel training over ``comm`` (default: the MPI world, NCCL for cuda devices)."""

    name = "ddp"

    def __init__(self, comm=None, device_type: str = "cpu"):
        self.comm = world(device_type) if comm is None else comm
        self.rank, self.world_size = self.comm.rank, self.comm.size
        self.is_main = self.rank == 0
        self._weight = 1.0
        if not self.is_main:
            _quiet_logs()
        if self.world_size == 1 and not _SAID:
            _SAID.append(True)
            why = mpi_unavailable_reason() or "not started by mpiexec"
            log.warning("trainkit: strategy=ddp runs as world size 1 (%s); run `mpiexec -n N python -m mpi4py -m trainkit train "
                        "trainer.strategy=ddp ...` to train on N processes", why)

    def device_for(self, device):
        """``cuda`` (or ``auto`` resolving to it) becomes ``cuda:<local rank>``: one GPU per process."""
        from ..backend import Device

        device = Device(device)
        if device.type == "cuda" and self.world_size > 1 and device.index in (None, 0):
            return Device("cuda", self.comm.local_rank)
        return device

    def prepare(self, trainer) -> None:
        self.shard_loaders(trainer.train_loader, trainer.val_loader)

    def shard_loaders(self, train_loader, val_loader=None) -> None:
        for loader, pad in ((train_loader, True), (val_loader, False)):
            if loader is None or self.world_size == 1:
                continue
            if not hasattr(loader, "shard"):
                log.warning("strategy=ddp: %s has no shard(): every rank reads all of it",
                            type(loader).__name__)
                continue
            loader.shard(self.world_size, self.rank, pad=pad)

    def fit_plugins(self, trainer, objects: list) -> list:
        if self.is_main:
            return objects
        trainer.run_dir = None
        return [p for p in objects if not getattr(p, "rank_zero_only", False)]

    def setup(self, trainer) -> None:
        broadcast_module(trainer.model, self.comm)

    def batch_loss(self, loss, batch):
        from ..autograd.tensor import Tensor

        target = batch[-1]
        n = int(target.shape[0]) if target.ndim else 1
        total, count = self.comm.reduce_values([float(loss.array) * n, n])
        self._weight = n / count if count else 0.0
        return Tensor(np.asarray(total / count if count else float("nan"), dtype=loss.array.dtype))

    def loss_scale(self, accumulate: int) -> float:
        return self._weight / accumulate

    def reduce_gradients(self, optimizer) -> None:
        sum_gradients(optimizer, self.comm)

    def agree(self, flag) -> bool:
        if self.world_size == 1:
            return bool(flag)
        return bool(self.comm.reduce_values([1.0 if flag else 0.0], op="max")[0])

    def reduce_sums(self, values):
        return self.comm.reduce_values(values)


def broadcast_module(model, comm, root: int = 0) -> None:
    """Overwrite every parameter and buffer of ``model`` in place with rank ``root``'s values."""
    if comm.size == 1:
        return
    for _, p in model.named_parameters():
        comm.broadcast(p.array, root)
    for _, b in model.named_buffers():
        if b is not None and hasattr(b.array, "shape"):
            comm.broadcast(b.array, root)


STRATEGIES = {"single": SingleProcess, "ddp": DataParallel}


def make_strategy(strategy=None, device_type: str = "cpu"):
    """A strategy object from ``None``/``"single"``, ``"ddp"`` or a strategy object (returned as is)."""
    if strategy is None:
        return SingleProcess()
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy={strategy!r} is not valid; use one of: {', '.join(STRATEGIES)}")
        cls = STRATEGIES[strategy]
        return cls(device_type=device_type) if cls is DataParallel else cls()
    for method in ("prepare", "setup", "batch_loss", "reduce_gradients", "agree"):
        if not callable(getattr(strategy, method, None)):
            raise TypeError(f"strategy must be 'single', 'ddp' or a strategy object; "
                            f"{type(strategy).__name__} has no {method}()")
    return strategy
