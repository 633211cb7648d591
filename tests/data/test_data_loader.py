"""DataLoader: batching, seeded order, epochs, collate_fn and exact resume."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit.data import DataLoader, Dataset, TensorDataset
from trainkit.data.loader import epoch_permutation


def _dataset(n=10):
    return TensorDataset(np.arange(n, dtype=np.float64).reshape(n, 1) * 0.5, np.arange(n))


def _labels(loader):
    return [batch[1].numpy().tolist() for batch in loader]


class CountingDataset(TensorDataset):
    """A TensorDataset that counts per-sample __getitem__ calls."""

    calls = 0

    def __getitem__(self, index):
        type(self).calls += 1
        return super().__getitem__(index)


class ListDataset(Dataset):
    """A hand-written dataset with no batch path: samples are (float64 array, int)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return np.array([0.5 * i]), i

    def __len__(self):
        return self.n


def test_batches_are_tuples_of_float32_and_int64_tensors():
    batch = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert isinstance(batch, tuple) and len(batch) == 2
    x, y = batch
    assert isinstance(x, trainkit.Tensor) and x.shape == (4, 1) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.device.type == "cpu"
    assert not x.requires_grad


def test_sequential_order_and_last_partial_batch():
    assert _labels(DataLoader(_dataset(10), batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize(("n", "bs", "drop_last", "expected"), [
    (10, 4, False, 3), (10, 4, True, 2), (8, 4, True, 2), (3, 4, True, 0), (3, 4, False, 1),
])
def test_len(n, bs, drop_last, expected):
    loader = DataLoader(_dataset(n), batch_size=bs, drop_last=drop_last)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_drop_last_drops_only_the_short_batch():
    sizes = [len(y) for _, y in DataLoader(_dataset(10), batch_size=3, shuffle=True, drop_last=True)]
    assert sizes == [3, 3, 3]


def test_fast_path_does_not_index_samples_one_by_one():
    CountingDataset.calls = 0
    ds = CountingDataset(np.arange(100.0), np.arange(100))
    for _ in DataLoader(ds, batch_size=10, shuffle=True):
        pass
    assert CountingDataset.calls == 0


def test_shuffle_is_a_permutation_fixed_by_seed_and_epoch():
    first = _labels(DataLoader(_dataset(50), batch_size=7, shuffle=True, seed=5))
    again = _labels(DataLoader(_dataset(50), batch_size=7, shuffle=True, seed=5))
    assert first == again
    flat = sum(first, [])
    assert sorted(flat) == list(range(50)) and flat != list(range(50))
    other_seed = _labels(DataLoader(_dataset(50), batch_size=7, shuffle=True, seed=6))
    assert other_seed != first


def test_order_does_not_depend_on_global_random_state():
    trainkit.manual_seed(1)
    a = _labels(DataLoader(_dataset(30), batch_size=30, shuffle=True, seed=2))
    trainkit.manual_seed(99)
    np.random.seed(99)
    assert _labels(DataLoader(_dataset(30), batch_size=30, shuffle=True, seed=2)) == a


def test_epochs_advance_automatically_and_differ():
    loader = DataLoader(_dataset(40), batch_size=40, shuffle=True, seed=0)
    epoch0 = _labels(loader)
    assert loader.state_dict() == {"epoch": 1, "batch": 0, "seed": 0}
    epoch1 = _labels(loader)
    assert loader.epoch == 2
    assert epoch0 != epoch1
    assert sorted(epoch1[0]) == list(range(40))
    np.testing.assert_array_equal(epoch1[0], epoch_permutation(40, 0, 1))


def test_set_epoch_selects_that_epochs_order():
    loader = DataLoader(_dataset(20), batch_size=5, shuffle=True, seed=3)
    _labels(loader)
    epoch1 = _labels(loader)
    fresh = DataLoader(_dataset(20), batch_size=5, shuffle=True, seed=3)
    fresh.set_epoch(1)
    assert _labels(fresh) == epoch1


def test_set_epoch_restarts_that_epoch_unless_a_resume_is_pending():
    loader = DataLoader(_dataset(20), batch_size=5, shuffle=True)
    it = iter(loader)
    next(it)
    loader.set_epoch(0)  # no resume pending: epoch 0 again, from its first batch
    assert loader.state_dict() == {"epoch": 0, "batch": 0, "seed": 0}
    assert _labels(loader)[0] == epoch_permutation(20, 0, 0)[:5].tolist()
    loader.set_epoch(2)
    assert loader.state_dict() == {"epoch": 2, "batch": 0, "seed": 0}

    resumed = DataLoader(_dataset(20), batch_size=5, shuffle=True)
    resumed.load_state_dict({"epoch": 1, "batch": 3, "seed": 0})
    resumed.set_epoch(1)  # the restored epoch: keep the restored position
    assert resumed.state_dict()["batch"] == 3
    assert _labels(resumed) == [epoch_permutation(20, 0, 1)[15:].tolist()]


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4])
def test_resume_mid_epoch_gives_the_same_remaining_batches(stop_after):
    def make():
        return DataLoader(_dataset(23), batch_size=5, shuffle=True, seed=7)

    reference = make()
    _labels(reference)  # epoch 0
    expected = _labels(reference) + _labels(reference)  # epochs 1 and 2

    run = make()
    _labels(run)
    it = iter(run)
    head = [next(it)[1].numpy().tolist() for _ in range(stop_after)]
    state = run.state_dict()
    assert state == {"epoch": 1, "batch": stop_after, "seed": 7}

    resumed = make()
    resumed.load_state_dict(state)
    tail = _labels(resumed) + _labels(resumed)
    assert head + tail == expected


def test_state_after_last_batch_resumes_into_an_empty_rest_of_epoch():
    loader = DataLoader(_dataset(10), batch_size=5, shuffle=True)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    assert state == {"epoch": 0, "batch": 2, "seed": 0}
    resumed = DataLoader(_dataset(10), batch_size=5, shuffle=True)
    resumed.load_state_dict(state)
    resumed.set_epoch(0)  # a loop's epoch-start call must not rewind
    assert list(resumed) == []
    assert resumed.state_dict() == {"epoch": 1, "batch": 0, "seed": 0}
    assert _labels(resumed)[0] == epoch_permutation(10, 0, 1)[:5].tolist()


def _trainer_like_run(loader, epochs, start_epoch=0, stop_after=None):
    """A training loop as the Trainer writes it: set_epoch, then the epoch's remaining batches.

    Returns ``(seen, checkpoint)`` where ``seen`` lists ``(epoch, labels)`` per batch and
    ``checkpoint`` is ``(epoch, loader state)`` taken after ``stop_after`` batches.
    """
    seen = []
    for epoch in range(start_epoch, epochs):
        loader.set_epoch(epoch)
        for _, y in loader:
            seen.append((epoch, y.numpy().tolist()))
            if len(seen) == stop_after:
                return seen, (epoch, loader.state_dict())
    return seen, None


@pytest.mark.parametrize("cut", range(1, 12))
def test_kill_and_resume_at_every_batch_matches_an_uninterrupted_loop(cut):
    def make():
        return DataLoader(_dataset(19), batch_size=5, shuffle=True, seed=11)

    expected, _ = _trainer_like_run(make(), epochs=3)
    assert len(expected) == 12
    head, (epoch, state) = _trainer_like_run(make(), epochs=3, stop_after=cut)
    resumed = make()
    resumed.load_state_dict(state)
    tail, _ = _trainer_like_run(resumed, epochs=3, start_epoch=epoch)
    assert head + tail == expected


def test_abandoned_iteration_is_not_resumed_by_a_new_iter():
    # torch starts a fresh pass on every iter(); a half-used epoch is left behind
    loader = DataLoader(_dataset(12), batch_size=4)
    for _ in loader:
        break
    assert loader.state_dict() == {"epoch": 0, "batch": 1, "seed": 0}
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert loader.state_dict() == {"epoch": 2, "batch": 0, "seed": 0}


def test_abandoned_shuffled_epoch_moves_on_to_the_next_epochs_order():
    loader = DataLoader(_dataset(12), batch_size=4, shuffle=True, seed=5)
    next(iter(loader))
    assert _labels(loader)[0] == epoch_permutation(12, 5, 1)[:4].tolist()


def test_resume_after_load_state_dict_is_one_shot():
    loader = DataLoader(_dataset(12), batch_size=4)
    loader.load_state_dict({"epoch": 0, "batch": 1, "seed": 0})
    it = iter(loader)
    assert next(it)[1].numpy().tolist() == [4, 5, 6, 7]
    # abandoning the resumed epoch: the next iter() is a fresh pass over epoch 1
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert loader.epoch == 2


def test_new_iteration_takes_over_from_an_older_one():
    loader = DataLoader(_dataset(12), batch_size=4)
    old = iter(loader)
    next(old)
    new = iter(loader)
    assert next(new)[1].numpy().tolist() == [0, 1, 2, 3]
    assert loader.epoch == 1
    assert list(old) == []


def test_state_dict_is_plain_json_values():
    import json

    state = DataLoader(_dataset(), batch_size=2, seed=4).state_dict()
    assert json.loads(json.dumps(state)) == state


@pytest.mark.parametrize(("state", "error", "match"), [
    ({"epoch": 0, "batch": 0}, KeyError, r"missing keys \['seed'\]"),
    ({"epoch": 0, "batch": 0, "seed": 0, "extra": 1}, KeyError, r"unexpected keys \['extra'\]"),
    ({"epoch": 0, "batch": 9, "seed": 0}, ValueError, "exceeds the 3 batches"),
    ({"epoch": -1, "batch": 0, "seed": 0}, ValueError, "epoch"),
    ({"epoch": 0, "batch": 1.5, "seed": 0}, TypeError, "batch"),
])
def test_load_state_dict_rejects_bad_state(state, error, match):
    with pytest.raises(error, match=match):
        DataLoader(_dataset(10), batch_size=4).load_state_dict(state)


def test_load_state_dict_adopts_the_saved_seed():
    a = DataLoader(_dataset(16), batch_size=4, shuffle=True, seed=1)
    b = DataLoader(_dataset(16), batch_size=4, shuffle=True, seed=2)
    b.load_state_dict(a.state_dict())
    assert _labels(a) == _labels(b)


def test_collate_fn_receives_samples():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return tuple(s[1].item() for s in samples)

    batches = list(DataLoader(_dataset(5), batch_size=2, collate_fn=collate))
    assert batches == [(0, 1), (2, 3), (4,)]
    assert seen == [2, 2, 1]


def test_plain_dataset_gives_the_same_batches_as_the_fast_path():
    plain = [(x.numpy(), y.numpy()) for x, y in DataLoader(ListDataset(17), batch_size=4, shuffle=True, seed=3)]
    fast = [(x.numpy(), y.numpy()) for x, y in DataLoader(_dataset(17), batch_size=4, shuffle=True, seed=3)]
    assert len(plain) == len(fast) == 5
    for (px, py), (fx, fy) in zip(plain, fast):
        assert px.dtype == fx.dtype == np.float32 and py.dtype == fy.dtype == np.int64
        np.testing.assert_array_equal(px, fx)
        np.testing.assert_array_equal(py, fy)


def test_batches_do_not_alias_the_dataset():
    ds = _dataset(8)
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x.data[...] = -1
    assert ds.arrays[0].min() >= 0


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"batch_size": 2.0}, TypeError, "batch_size must be an int"),
    ({"seed": "a"}, TypeError, "seed"),
    ({"collate_fn": 3}, TypeError, "collate_fn"),
    ({"num_workers": -1}, ValueError, "num_workers"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(_dataset(), **kwargs)


def test_dataset_without_len_is_rejected():
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(object())


def test_empty_epoch_with_drop_last_still_advances_once():
    loader = DataLoader(_dataset(3), batch_size=4, drop_last=True)
    assert list(loader) == []
    assert loader.state_dict()["epoch"] == 1


def test_array_backed_dataset_on_either_backend(xp, device):
    x = xp.arange(20, dtype=xp.float64).reshape(10, 2)
    y = xp.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=2)
    batches = list(loader)
    assert [b[0].device.type for b in batches] == [device] * 3
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    order = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(order, epoch_permutation(10, 2, 0))
    first = batches[0][0].numpy()
    np.testing.assert_array_equal(first[:, 0], 2.0 * order[:4])
