"""Data-parallel pieces that need no MPI: sharding, loader positions across world sizes, the bucket
all-reduce (against a stand-in communicator), the NCCL communicator (against a stand-in cupy.cuda.nccl),
validation sums, and ``strategy="ddp"`` at world size 1."""
from __future__ import annotations

import logging
import types

import numpy as np
import pytest

import trainkit as tk
from trainkit import nn, optim
from trainkit.data import DataLoader, TensorDataset
from trainkit.data.sharding import shard_indices
from trainkit.distributed import comm as comm_mod
from trainkit.distributed.gradients import all_reduce_gradients, sum_gradients
from trainkit.distributed.strategy import (
    DataParallel,
    SingleProcess,
    WorldSizeError,
    make_strategy,
)
from trainkit.evaluate import evaluate
from trainkit.trainer import Trainer


def _labels(loader, epoch):
    loader.set_epoch(epoch)
    return [y.numpy().tolist() for _, y in loader]


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_batches_together_are_the_single_process_batch(world):
    ds = TensorDataset(np.zeros((24, 1)), np.arange(24))  # 24 = 2 * 12 = 3 * 8: nothing padded
    single = DataLoader(ds, batch_size=4 * world, shuffle=True, seed=5)
    shards = [DataLoader(ds, batch_size=4, shuffle=True, seed=5, num_replicas=world, rank=r) for r in range(world)]
    for epoch in (0, 1):
        expected = _labels(single, epoch)
        per_rank = [_labels(s, epoch) for s in shards]
        assert {len(b) for b in per_rank} == {len(expected)}
        for k, batch in enumerate(expected):
            assert sorted(sum((b[k] for b in per_rank), [])) == sorted(batch)
    assert _labels(single, 0) != _labels(single, 1)  # shuffled per epoch from seed + epoch


def test_padding_and_drop_last_follow_torch():
    order = np.arange(10)
    # torch DistributedSampler(num_replicas=3, shuffle=False): padded to 12 with the first samples
    assert [shard_indices(order, 10, 3, r).tolist() for r in range(3)] == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert [shard_indices(order, 10, 3, r, drop_last=True).tolist() for r in range(3)] == [[0, 3, 6], [1, 4, 7],
                                                                                            [2, 5, 8]]
    assert [shard_indices(order, 10, 3, r, pad=False).tolist() for r in range(3)] == [[0, 3, 6, 9], [1, 4, 7],
                                                                                      [2, 5, 8]]
    ds = TensorDataset(np.zeros((10, 1)), np.arange(10))
    assert [len(DataLoader(ds, batch_size=3, num_replicas=3, rank=r)) for r in range(3)] == [2, 2, 2]
    loader = DataLoader(ds, batch_size=3, num_replicas=3, rank=1)
    loader.shard(1, 0)
    assert len(loader) == 4
    with pytest.raises(ValueError, match="rank must be < num_replicas"):
        loader.shard(2, 2)


def test_loader_position_across_world_sizes():
    ds = TensorDataset(np.zeros((48, 1)), np.arange(48))
    trainer = types.SimpleNamespace(train_loader=DataLoader(ds, batch_size=4))  # one process now, batch 4
    one = SingleProcess()
    saved = {"world_size": 2, "batch_size": 4}  # written by 2 processes with batch 4 each
    assert one.loader_state(trainer, {"epoch": 1, "batch": 3, "seed": 0}, saved, "ck")["batch"] == 6
    assert one.loader_state(trainer, {"epoch": 1, "batch": 0, "seed": 0}, saved, "ck")["batch"] == 0
    assert one.loader_state(trainer, {"epoch": 1, "batch": 6, "seed": 0}, saved, "ck")["batch"] == 12  # epoch end
    assert one.loader_state(trainer, {"epoch": 1, "batch": 5, "seed": 0}, {}, "ck")["batch"] == 5  # same world
    four = SingleProcess()
    four.world_size = 4
    trainer.train_loader.shard(4, 0)
    with pytest.raises(WorldSizeError, match=r"written by 2 at batch 3 .*mpiexec -n 2 .*init_from=ck"):
        four.loader_state(trainer, {"epoch": 0, "batch": 3, "seed": 0}, saved, "ck")
    assert four.loader_state(trainer, {"epoch": 0, "batch": 4, "seed": 0}, saved, "ck")["batch"] == 2


class FakeComm(comm_mod.LocalComm):
    """Two ranks holding the same gradients: a sum doubles them. Counts the collectives."""

    size = 2

    def __init__(self):
        self.calls = []

    def all_reduce(self, array, op="sum"):
        self.calls.append(array.size)
        array *= 2
        return array


def _model():
    tk.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def _backward(model):
    x = tk.tensor(np.random.default_rng(0).normal(size=(6, 4)))
    model(x).pow(2).mean().backward()
    return [p.grad_array.copy() for p in model.parameters()]


def test_one_collective_per_bucket():
    model = _model()
    params = list(model.parameters())
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}])
    before = _backward(model)
    comm = FakeComm()
    sum_gradients(opt, comm, scale=0.5)
    assert comm.calls == [8 * 4 + 8, 2 * 8 + 2]  # two param groups: two buckets, two collectives
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad, g)
    for bucket, members in opt.flat_buckets():
        assert all(p.grad_array.base is bucket.grad for p in members)  # reduced in the flat buffer itself


def test_fallback_packs_every_gradient_into_one_collective():
    model = _model()
    opt = optim.LBFGS(model.parameters())
    before = _backward(model)
    comm = FakeComm()
    all_reduce_gradients(opt, comm=comm)  # average: scaled by 1/2, summed (doubled)
    assert comm.calls == [sum(g.size for g in before)]
    for p, g in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.grad, g)


def test_unused_parameter_gets_the_reduced_gradient_and_frozen_ones_are_left_alone():
    model = _model()
    params = list(model.parameters())
    opt = optim.SGD(params, lr=0.1)
    _backward(model)
    params[0].grad = None  # unused on this rank
    params[3].requires_grad = False
    params[3].grad = None
    sum_gradients(opt, FakeComm())
    np.testing.assert_array_equal(params[0].grad, np.zeros((8, 4)))
    assert params[3].grad is None


def test_weighting_by_global_sample_count():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = _backward(model)

    class Counts(FakeComm):
        def reduce_values(self, values, op="sum"):
            return np.array(values, dtype=np.float64) * 4  # the global count is 4x this rank's

    all_reduce_gradients(opt, num_samples=3, comm=Counts())
    for p, g in zip(model.parameters(), before):
        np.testing.assert_allclose(p.grad, g * 2 / 4)


class FakeMPI:
    """Stands in for an mpi4py communicator of rank ``rank`` of 2."""

    def __init__(self, rank):
        self.rank, self.sent = rank, []

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return 2

    def Split_type(self, kind, key=0):
        return types.SimpleNamespace(Get_rank=lambda: self.rank, Get_size=lambda: 2, Free=lambda: None)

    def bcast(self, value, root=0):
        self.sent.append(value)
        return "uid-from-rank-0"


class FakeNccl:
    NCCL_SUM, NCCL_MAX, NCCL_MIN = 0, 2, 3
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT32, NCCL_INT64, NCCL_UINT8 = 6, 7, 8, 2, 4, 1

    def __init__(self):
        self.made, self.calls = [], []

    def get_unique_id(self):
        return "uid-from-rank-0"

    def NcclCommunicator(self, ndev, uid, rank):
        self.made.append((ndev, uid, rank))
        nccl = self

        class Comm:
            def allReduce(self, send, recv, count, dtype, op, stream):
                nccl.calls.append(("allReduce", send, recv, count, dtype, op, stream))

            def bcast(self, buff, count, dtype, root, stream):
                nccl.calls.append(("bcast", buff, count, dtype, root, stream))

        return Comm()


class FakeCuda:
    def __init__(self):
        self.used = []

    def Device(self, index):
        return types.SimpleNamespace(use=lambda: self.used.append(index))

    def get_current_stream(self):
        return types.SimpleNamespace(ptr=77)


class FakeDeviceArray:
    size, dtype = 10, np.dtype("float32")
    data = types.SimpleNamespace(ptr=1234)


@pytest.mark.parametrize("rank", [0, 1])
def test_nccl_communicator(monkeypatch, rank):
    monkeypatch.setitem(__import__("sys").modules, "mpi4py", types.SimpleNamespace(
        MPI=types.SimpleNamespace(COMM_WORLD=None, COMM_TYPE_SHARED=1, SUM="sum", MAX="max", MIN="min")))
    monkeypatch.setitem(__import__("sys").modules, "mpi4py.MPI", __import__("sys").modules["mpi4py"].MPI)
    monkeypatch.setattr(comm_mod, "get_array_module",
                        lambda a: types.SimpleNamespace() if isinstance(a, FakeDeviceArray) else np)
    nccl, cuda, mpi = FakeNccl(), FakeCuda(), FakeMPI(rank)
    comm = comm_mod.NCCLComm(mpi, nccl=nccl, cuda=cuda)
    assert cuda.used == [rank]  # GPU = local rank
    assert nccl.made == [(2, "uid-from-rank-0", rank)]  # the id made on rank 0, broadcast over MPI
    assert mpi.sent == (["uid-from-rank-0"] if rank == 0 else [None])
    comm.all_reduce(FakeDeviceArray(), op="max")
    comm.broadcast(FakeDeviceArray(), root=0)
    assert nccl.calls == [("allReduce", 1234, 1234, 10, FakeNccl.NCCL_FLOAT32, FakeNccl.NCCL_MAX, 77),
                          ("bcast", 1234, 10, FakeNccl.NCCL_FLOAT32, 0, 77)]


def test_validation_sums_are_reduced():
    model = _model()
    x = np.random.default_rng(1).normal(size=(7, 4))
    loader = DataLoader(TensorDataset(x, np.array([0, 1, 0, 1, 1, 0, 0])), batch_size=3)
    alone = evaluate(model, nn.CrossEntropyLoss(), loader, lambda b: b)
    doubled = evaluate(model, nn.CrossEntropyLoss(), loader, lambda b: b, reduce=lambda v: np.array(v) * 2)
    assert doubled == pytest.approx(alone, rel=1e-14)


def test_ddp_outside_mpiexec_is_world_size_1_and_says_so(caplog, monkeypatch):
    monkeypatch.setattr("trainkit.distributed.strategy._SAID", [])
    monkeypatch.setattr(comm_mod, "_WORLD", [comm_mod.LocalComm()])
    results = []
    for strategy in ("single", "ddp"):
        model = _model()
        x = np.random.default_rng(2).normal(size=(20, 4))
        loader = DataLoader(TensorDataset(x, np.arange(20) % 2), batch_size=5, shuffle=True)
        with caplog.at_level(logging.WARNING, logger="trainkit.distributed"):
            Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), loader, max_epochs=2,
                    default_plugins=False, strategy=strategy).fit()
        results.append(np.concatenate([p.array.ravel() for p in model.parameters()]))
    np.testing.assert_array_equal(results[0], results[1])
    lines = [r.getMessage() for r in caplog.records if "world size 1" in r.getMessage()]
    assert len(lines) == 1 and "mpiexec -n N python -m mpi4py" in lines[0]


def test_strategy_argument_is_checked():
    assert isinstance(make_strategy(None), SingleProcess)
    with pytest.raises(ValueError, match="strategy='dpp' is not valid; use one of: single, ddp"):
        make_strategy("dpp")
    with pytest.raises(TypeError, match="has no prepare"):
        make_strategy(object())
    assert isinstance(make_strategy(DataParallel(comm=comm_mod.LocalComm())), DataParallel)


@pytest.mark.parametrize("values, message", [
    (dict(strategy="dpp"), "trainer.strategy"),
    (dict(num_processes=0), "num_processes=0 must be >= 1"),
    (dict(num_processes=2), "num_processes=2 needs trainer.strategy=ddp"),
])
def test_config_strategy_is_checked(values, message):
    from omegaconf import OmegaConf

    from trainkit.compose.checks import check_trainer
    from trainkit.config import ConfigError, TrainerConf

    with pytest.raises(ConfigError, match=message):
        check_trainer(OmegaConf.structured(TrainerConf(device="cpu", **values)))
