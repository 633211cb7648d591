"""User .npz files: key lookup, splits, task inference and errors."""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.data import DataFileNotFoundError, DataFormatError, npz


def test_explicit_train_and_val(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.ones((8, 3)), y_train=np.arange(8) % 4, x_val=np.zeros((2, 3)), y_val=[0, 3])
    data = npz(path=str(path))
    assert (len(data.train), len(data.val)) == (8, 2)
    assert data.train.arrays[0].dtype == np.float32 and data.train.arrays[1].dtype == np.int64
    assert data.num_classes == 4 and data.input_shape == (3,) and data.task == "classification"


def test_x_y_split_by_fraction_and_seed(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2)
    a, b = npz(path=path, val_fraction=0.3, seed=1), npz(path=path, val_fraction=0.3, seed=1)
    assert (len(a.train), len(a.val)) == (7, 3)
    np.testing.assert_array_equal(a.val.arrays[0], b.val.arrays[0])
    c = npz(path=path, val_fraction=0.3, seed=2)
    assert not np.array_equal(a.val.arrays[0], c.val.arrays[0])


def test_custom_keys_scale_and_num_classes(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.full((4, 1, 2, 2), 255, np.uint8), labels=np.array([0, 1, 0, 1], np.uint8))
    data = npz(path=path, x_key="images", y_key="labels", val_fraction=0.0, scale=1 / 255, num_classes=5)
    assert data.val is None and data.num_classes == 5 and data.input_shape == (1, 2, 2)
    np.testing.assert_allclose(data.train.arrays[0], 1.0)


def test_float_targets_mean_regression(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(10.0).reshape(10, 1), y=np.arange(10.0) * 2)
    data = npz(path=path, val_fraction=0.2)
    assert data.task == "regression" and data.num_classes is None
    assert data.train.arrays[1].shape == (8, 1) and data.target_shape == (1,) and data.out_features == 1


def test_missing_file_names_path_and_expected_keys(tmp_path):
    with pytest.raises(DataFileNotFoundError) as info:
        npz(path=tmp_path / "absent.npz")
    msg = str(info.value)
    assert "absent.npz" in msg and "'x_train'" in msg and "'x'/'y'" in msg and "numpy.savez" in msg


def test_missing_keys_lists_present_and_wanted(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.zeros((3, 2)), targets=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"found keys \['features', 'targets'\]; expected 'x_train'"):
        npz(path=path)


@pytest.mark.parametrize(("arrays", "match"), [
    ({"x": np.zeros((3, 2)), "y": np.zeros(4, int)}, "'x' has 3 samples but 'y' has 4"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.zeros(3, int), "x_val": np.zeros((1, 2))}, "both be present"),
    ({"x_train": np.zeros((3, 2))}, "no 'y_train'"),
    ({"x": np.zeros((3, 2)), "y": np.array([0, 1, -1])}, r"class labels must lie in \[0, 2\)"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.zeros(3, int), "x_val": np.zeros((1, 5)),
      "y_val": np.zeros(1, int)}, "val samples"),
])
def test_inconsistent_arrays(tmp_path, arrays, match):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match=match):
        npz(path=path, val_fraction=0.0)


def test_object_arrays_are_refused_without_pickle(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([[1], [2, 3]], dtype=object), y=np.zeros(2, int))
    with pytest.raises(DataFormatError, match="cannot be loaded without pickle"):
        npz(path=path)


def test_not_an_npz(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataFormatError, match="bad.npz: not a readable .npz"):
        npz(path=bad)
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(DataFormatError, match="single array"):
        npz(path=npy)


def test_num_classes_with_float_targets_is_rejected(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 1)), y=np.zeros(4))
    with pytest.raises(ValueError, match="floating targets mean regression"):
        npz(path=path, num_classes=3)
