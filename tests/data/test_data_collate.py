"""default_collate: structure and dtype rules of batches built sample by sample."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit.data import default_collate


def test_tuples_of_numbers_and_arrays():
    x, y = default_collate([(np.array([1.0, 2.0]), 3), (np.array([4.0, 5.0]), 6)])
    assert x.dtype == np.float32 and x.shape == (2, 2)
    assert y.dtype == np.int64 and y.numpy().tolist() == [3, 6]


def test_python_floats_become_float32():
    (v,) = default_collate([(1.5,), (2.5,)])
    assert v.dtype == np.float32


def test_tensors_keep_their_dtype():
    a = trainkit.tensor(np.ones(3), dtype=np.float64)
    (batch,) = default_collate([(a,), (a,)])
    assert batch.dtype == np.float64 and batch.shape == (2, 3)


def test_dicts_strings_and_single_arrays():
    batch = default_collate([{"x": np.zeros(2), "name": "a"}, {"x": np.ones(2), "name": "b"}])
    assert batch["x"].shape == (2, 2) and batch["name"] == ["a", "b"]
    single = default_collate([np.zeros(3), np.ones(3)])
    assert isinstance(single, trainkit.Tensor) and single.shape == (2, 3)


def test_shape_mismatch_names_the_field_and_shapes():
    with pytest.raises(ValueError, match=r"sample\[0\]: shapes differ \[\(2,\), \(3,\)\]"):
        default_collate([(np.zeros(2), 0), (np.zeros(3), 1)])


def test_ragged_samples_and_empty_list():
    with pytest.raises(ValueError, match="different lengths"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])
