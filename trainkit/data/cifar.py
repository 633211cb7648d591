"""CIFAR-10 from its binary batches (``cifar-10-batches-bin``), no pickle involved.

Each ``.bin`` file is a run of 3073-byte records: one label byte (0-9), then
the 32x32 image as 1024 red, 1024 green and 1024 blue bytes in row-major order
(https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"). The files may
also be read straight from the downloaded ``cifar-10-binary.tar.gz``.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from .dataset import TensorDataset
from .errors import DataFormatError
from .files import candidate_dirs, find_file, missing_files_error, read_bytes
from .splits import DataSplits, check_fraction, split_arrays

__all__ = ["parse_cifar10_batch", "cifar10", "CIFAR10_TRAIN_FILES", "CIFAR10_TEST_FILE",
           "CIFAR10_CLASSES"]

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
_RECORD = 1 + 3 * 32 * 32
_ARCHIVE = "cifar-10-binary.tar.gz"
_FOLDER = "cifar-10-batches-bin"
_SOURCE = (
    "Download the 'CIFAR-10 binary version (suitable for C programs)' "
    f"({_ARCHIVE}) from the official page https://www.cs.toronto.edu/~kriz/cifar.html "
    f"and extract it (it unpacks to {_FOLDER}/)."
)


def parse_cifar10_batch(data: bytes, source: str = "<bytes>"):
    """Decode one binary batch into ``(images uint8 (N, 3, 32, 32), labels int64 (N,))``."""
    if len(data) == 0 or len(data) % _RECORD:
        raise DataFormatError(
            f"{source}: size {len(data)} bytes is not a positive multiple of the {_RECORD}-byte "
            "CIFAR-10 record (1 label byte + 3072 pixel bytes); truncated, or not a binary batch "
            "(the python version's pickled batches are not supported)"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataFormatError(
            f"{source}: record {int(bad[0])} has label {int(labels[bad[0]])}; CIFAR-10 labels "
            "are 0..9 (is this a CIFAR-100 file? its records hold two label bytes)"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32)
    return images, labels


def _read_members(dirs: list[Path], names: list[str]) -> dict[str, tuple[bytes, str]] | None:
    """Read ``names`` from a ``cifar-10-binary.tar.gz`` in one of ``dirs``, if there is one."""
    archive = find_file(dirs, _ARCHIVE, allow_gz=False)
    if archive is None:
        return None
    out = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in names:
                try:
                    member = tar.extractfile(f"{_FOLDER}/{name}")
                except KeyError:
                    raise DataFormatError(f"{archive}: archive has no member {_FOLDER}/{name}") from None
                out[name] = (member.read(), f"{archive}:{_FOLDER}/{name}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFormatError(f"{archive}: cannot read the archive ({exc}); the download may be truncated") from exc
    return out


def _load_batches(root) -> dict[str, tuple[bytes, str]]:
    dirs = candidate_dirs(root, (_FOLDER,))
    names = list(CIFAR10_TRAIN_FILES) + [CIFAR10_TEST_FILE]
    paths = {name: find_file(dirs, name, allow_gz=False) for name in names}
    missing = [n for n, p in paths.items() if p is None]
    if not missing:
        return {n: (read_bytes(p), str(p)) for n, p in paths.items()}
    from_archive = _read_members(dirs, names)
    if from_archive is not None:
        return from_archive
    error = missing_files_error("CIFAR-10", dirs, missing, names, _SOURCE, allow_gz=False)
    python_version = [d / "cifar-10-batches-py" for d in dirs if (d / "cifar-10-batches-py").is_dir()]
    if python_version:
        error.args = (error.args[0] + f" Found {python_version[0]}, the pickled python version, "
                      "which trainkit does not read; use the binary version.",)
    raise error


def cifar10(root: str = "data", flatten: bool = False, val_fraction: float = 0.0,
            seed: int = 0) -> DataSplits:
    """CIFAR-10 (10 classes of 32x32 colour images) from the binary batches.

    Looks in ``root`` and ``root/cifar-10-batches-bin`` for ``data_batch_1.bin`` ..
    ``data_batch_5.bin`` and ``test_batch.bin``, or reads them from
    ``cifar-10-binary.tar.gz`` in ``root``. Images become float32 in [0, 1] of
    shape (3, 32, 32) (3072 features with ``flatten``).

    Args:
        root: folder holding the files (or the archive).
        flatten: return each image as a 3072-vector.
        val_fraction: 0 (default) validates on ``test_batch.bin``; a fraction > 0
            holds out that share of the training batches instead.
        seed: the split seed when ``val_fraction > 0``.

    Raises:
        DataFileNotFoundError: files are missing (the message names the folders
            searched, the files expected and the official download page).
        DataFormatError: a file is truncated or holds labels outside 0..9.
    """
    val_fraction = check_fraction("val_fraction", val_fraction)
    batches = _load_batches(root)
    parsed = [parse_cifar10_batch(*batches[name]) for name in CIFAR10_TRAIN_FILES]
    x_train = np.concatenate([p[0] for p in parsed])
    y_train = np.concatenate([p[1] for p in parsed])
    x_val, y_val = parse_cifar10_batch(*batches[CIFAR10_TEST_FILE])
    scale = np.float32(1.0 / 255.0)
    x_train, x_val = x_train.astype(np.float32) * scale, x_val.astype(np.float32) * scale
    input_shape = (3, 32, 32)
    if flatten:
        x_train, x_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)
        input_shape = (3 * 32 * 32,)
    if val_fraction:
        train, val = split_arrays((x_train, y_train), val_fraction, seed)
    else:
        train, val = TensorDataset(x_train, y_train), TensorDataset(x_val, y_val)
    return DataSplits(train, val, input_shape=input_shape, num_classes=10, target_shape=(),
                      name="cifar10", class_names=CIFAR10_CLASSES)
