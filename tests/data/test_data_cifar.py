"""CIFAR-10 binary batches: record layout, archive reading and error messages."""
from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from trainkit.data import DataFileNotFoundError, DataFormatError, cifar10, parse_cifar10_batch

NAMES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def batch_bytes(labels, images) -> bytes:
    """Records of 1 label byte + R, G, B planes (written here independently of the loader)."""
    out = bytearray()
    for label, image in zip(labels, images):
        out.append(int(label))
        for channel in range(3):
            out += image[:, :, channel].astype(np.uint8).tobytes()  # HWC image, plane by plane
    return bytes(out)


def make_batches(seed=0, n=3):
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(0, 10, n), rng.integers(0, 256, (n, 32, 32, 3))) for name in NAMES}


def write_cifar(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (labels, images) in batches.items():
        (folder / name).write_bytes(batch_bytes(labels, images))


def test_parse_batch_layout():
    labels, images = [3, 9], np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3))
    x, y = parse_cifar10_batch(batch_bytes(labels, images))
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 9]
    np.testing.assert_array_equal(x, images.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-bin"])
def test_cifar10_from_folder(tmp_path, subdir):
    batches = make_batches()
    write_cifar(tmp_path / subdir if subdir else tmp_path, batches)
    data = cifar10(root=str(tmp_path))
    x, y = data.train.arrays
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.concatenate([batches[n][0] for n in NAMES[:5]]))
    np.testing.assert_allclose(x[0], batches[NAMES[0]][1][0].transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert len(data.val) == 3 and data.num_classes == 10 and data.class_names[0] == "airplane"


def test_cifar10_from_the_downloaded_archive(tmp_path):
    batches = make_batches(seed=2)
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, (labels, images) in batches.items():
            raw = batch_bytes(labels, images)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    data = cifar10(root=tmp_path, flatten=True)
    assert data.input_shape == (3072,)
    np.testing.assert_array_equal(data.val.arrays[1], batches["test_batch.bin"][0])


def test_cifar10_val_fraction_holds_out_training_data(tmp_path):
    write_cifar(tmp_path, make_batches(n=4))
    data = cifar10(root=tmp_path, val_fraction=0.25)
    assert (len(data.train), len(data.val)) == (15, 5)


def test_missing_files_name_folder_files_and_page(tmp_path):
    batches = make_batches()
    del batches["data_batch_3.bin"]
    write_cifar(tmp_path, batches)
    with pytest.raises(DataFileNotFoundError) as info:
        cifar10(root=tmp_path)
    msg = str(info.value)
    assert "missing data_batch_3.bin" in msg and str(tmp_path) in msg
    assert "test_batch.bin" in msg and "cifar-10-batches-bin" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg


def test_python_version_folder_gets_a_hint(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataFileNotFoundError, match="pickled python version"):
        cifar10(root=tmp_path)


def test_truncated_batch_and_bad_label(tmp_path):
    batches = make_batches()
    write_cifar(tmp_path, batches)
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataFormatError, match=r"data_batch_2\.bin: size 9218 bytes is not .* 3073-byte"):
        cifar10(root=tmp_path)
    labels, images = batches["data_batch_2.bin"]
    path.write_bytes(batch_bytes([1, 42, 2], images))
    with pytest.raises(DataFormatError, match="record 1 has label 42"):
        cifar10(root=tmp_path)


def test_corrupt_archive_is_named(tmp_path):
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(b"\x1f\x8bnot really")
    with pytest.raises(DataFormatError, match="cifar-10-binary.tar.gz: cannot read the archive"):
        cifar10(root=tmp_path)
