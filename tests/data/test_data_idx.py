"""MNIST / Fashion-MNIST IDX files: parsing, layouts, gzip and error messages."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from trainkit.data import DataFileNotFoundError, DataFormatError, fashion_mnist, load_idx, mnist, parse_idx

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX (written here independently of the loader)."""
    header = struct.pack(">BBBB", 0, 0, _CODES[array.dtype.type], array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder, n_train=6, n_test=4, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, array in data.items():
        raw = idx_bytes(array)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return data


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_parse_idx_round_trips_every_type(dtype):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype is np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(array))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_plain_and_gzip(tmp_path, gz):
    raw = write_mnist(tmp_path, gz=gz)
    data = mnist(root=str(tmp_path))
    x, y = data.train.arrays
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], raw["train-images-idx3-ubyte"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, raw["train-labels-idx1-ubyte"])
    assert y.dtype == np.int64
    np.testing.assert_array_equal(data.val.arrays[1], raw["t10k-labels-idx1-ubyte"])
    assert data.num_classes == 10 and data.input_shape == (1, 28, 28)


def test_mnist_torchvision_layout_flatten_and_split(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", n_train=10)
    data = mnist(root=tmp_path, flatten=True, val_fraction=0.2, seed=1)
    assert data.input_shape == (784,)
    assert (len(data.train), len(data.val)) == (8, 2)


def test_fashion_mnist_reads_its_own_folder(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    data = fashion_mnist(root=tmp_path)
    assert data.name == "fashion_mnist" and data.class_names[0] == "T-shirt/top"
    with pytest.raises(DataFileNotFoundError, match="fashion-mnist"):
        fashion_mnist(root=tmp_path / "elsewhere")


def test_missing_files_name_path_files_and_source(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataFileNotFoundError) as info:
        mnist(root=tmp_path)
    msg = str(info.value)
    assert "missing t10k-labels-idx1-ubyte" in msg
    assert str(tmp_path) in msg
    assert "train-images-idx3-ubyte" in msg and "(plain or .gz)" in msg
    assert "yann.lecun.com/exdb/mnist" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_missing_root_folder_is_named(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="does not exist"):
        mnist(root=tmp_path / "nope")


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda b: b"\x01\x02" + b[2:], "bad IDX magic number 0x0102"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown type code 0x07"),
    (lambda b: b[:-5], "truncated or corrupt"),
    (lambda b: b[:2], "too short"),
    (lambda b: b[:6], "header truncated"),
])
def test_malformed_idx_names_the_file_and_problem(tmp_path, mutate, match):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataFormatError, match=match) as info:
        mnist(root=tmp_path)
    assert str(path) in str(info.value)


def test_broken_gzip_is_named(tmp_path):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:12])
    with pytest.raises(DataFormatError, match="not a valid gzip file"):
        load_idx(path)


def test_count_mismatch_and_label_range(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataFormatError, match="holds 6 images but .* holds 5 labels"):
        mnist(root=tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(6, 12, np.uint8)))
    with pytest.raises(DataFormatError, match=r"labels must lie in \[0, 10\)"):
        mnist(root=tmp_path)


def test_wrong_rank_is_reported(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((6, 784), np.uint8)))
    with pytest.raises(DataFormatError, match=r"expected images of shape \(N, H, W\)"):
        mnist(root=tmp_path)
