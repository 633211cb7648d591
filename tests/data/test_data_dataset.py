"""Dataset, TensorDataset, Subset and random_split."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit.data import Dataset, Subset, TensorDataset, random_split


def test_tensor_dataset_indexing_returns_tensors_of_each_field():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert isinstance(xi, trainkit.Tensor) and isinstance(yi, trainkit.Tensor)
    np.testing.assert_array_equal(xi.numpy(), [8.0, 9.0])
    assert yi.item() == 4


def test_tensor_dataset_dtype_conventions():
    ds = TensorDataset(np.zeros((3, 2), np.float64), np.array([0, 1, 2], np.int32), [[1.5], [2.5], [3.5]])
    assert [a.dtype for a in ds.arrays] == [np.float32, np.int64, np.float32]


def test_tensor_dataset_keeps_tensor_dtype():
    x = trainkit.tensor(np.zeros((3, 2)), dtype=np.float64)
    ds = TensorDataset(x, trainkit.tensor([0, 1, 2]))
    assert ds.arrays[0].dtype == np.float64
    assert ds.tensors[0].dtype == np.float64


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"tensor 0: 5, tensor 1: 4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("args", [(), (np.float32(1.0),)])
def test_tensor_dataset_rejects_empty_and_scalars(args):
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset(*args)


def test_tensor_dataset_rejects_non_numeric():
    with pytest.raises(TypeError, match="numeric"):
        TensorDataset(np.array(["a", "b"]))


def test_base_dataset_requires_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


def test_subset_maps_indices_and_keeps_batch_path():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1].item() == 7
    x, y = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(y, [5, 7])


def test_subset_of_plain_dataset_has_no_batch_path():
    class Plain(Dataset):
        def __getitem__(self, i):
            return float(i), i

        def __len__(self):
            return 4

    assert not hasattr(Subset(Plain(), [0, 1]), "get_batch")


def test_subset_index_out_of_range():
    with pytest.raises(IndexError, match="index 10 is out of range for a dataset of length 10"):
        Subset(TensorDataset(np.arange(10)), [0, 10])


def test_random_split_is_a_seeded_partition():
    ds = TensorDataset(np.arange(20))
    a, b = random_split(ds, [15, 5], generator=3)
    got = np.sort(np.concatenate([a.indices, b.indices]))
    np.testing.assert_array_equal(got, np.arange(20))
    a2, _ = random_split(ds, [15, 5], generator=3)
    np.testing.assert_array_equal(a.indices, a2.indices)
    a3, _ = random_split(ds, [15, 5], generator=4)
    assert not np.array_equal(a.indices, a3.indices)


def test_random_split_global_generator_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    trainkit.manual_seed(11)
    first = random_split(ds, [0.5, 0.5])[0].indices
    trainkit.manual_seed(11)
    np.testing.assert_array_equal(first, random_split(ds, [0.5, 0.5])[0].indices)


@pytest.mark.parametrize(
    ("lengths", "match"),
    [([3, 3], "sum to the dataset length 10"), ([0.5, 0.6], "sum to 1"), ([], "must not be empty")],
)
def test_random_split_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        random_split(TensorDataset(np.arange(10)), lengths, generator=0)


def test_random_split_bad_generator():
    with pytest.raises(TypeError, match="generator"):
        random_split(TensorDataset(np.arange(10)), [5, 5], generator="seed")
