"""MNIST and Fashion-MNIST from their IDX files (plain or ``.gz``).

The IDX format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): two zero
bytes, a type code, the number of dimensions, each dimension as a big-endian
uint32, then the values in big-endian C order.
"""
from __future__ import annotations

import numpy as np

from .errors import DataFormatError
from .files import candidate_dirs, find_file, missing_files_error, read_bytes
from .dataset import TensorDataset
from .splits import DataSplits, check_fraction, split_arrays

__all__ = ["parse_idx", "load_idx", "mnist", "fashion_mnist", "MNIST_FILES"]

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "val_images": "t10k-images-idx3-ubyte",
    "val_labels": "t10k-labels-idx1-ubyte",
}

_SOURCES = {
    "mnist": (
        "MNIST",
        ("MNIST/raw", "mnist"),
        "Download them from the official page http://yann.lecun.com/exdb/mnist/ "
        "(mirror: https://ossci-datasets.s3.amazonaws.com/mnist/).",
        ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
    ),
    "fashion_mnist": (
        "Fashion-MNIST",
        ("FashionMNIST/raw", "fashion_mnist", "fashion-mnist"),
        "Download them from https://github.com/zalandoresearch/fashion-mnist "
        "(files at http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/).",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"),
    ),
}


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian numpy array; errors name ``source``."""
    if len(data) < 4:
        raise DataFormatError(f"{source}: IDX file too short ({len(data)} bytes) for its 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise DataFormatError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}: the first two bytes must be 0 "
            "(is this an IDX file, e.g. train-images-idx3-ubyte?)"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise DataFormatError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}: unknown type code 0x{code:02x} "
            f"(accepted: {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)})"
        )
    if ndim == 0:
        raise DataFormatError(f"{source}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(
            f"{source}: IDX header truncated: {ndim} dimensions need {header} bytes, file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataFormatError(
            f"{source}: IDX data has {len(data) - header} bytes but the header's shape {shape} "
            f"of {dtype.name} needs {expected} (truncated or corrupt file)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def load_idx(path) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed)."""
    return parse_idx(read_bytes(path), str(path))


def _images_labels(image_path, label_path, num_classes: int):
    images = load_idx(image_path)
    labels = load_idx(label_path)
    if images.ndim != 3:
        raise DataFormatError(f"{image_path}: expected images of shape (N, H, W), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataFormatError(f"{label_path}: expected labels of shape (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataFormatError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataFormatError(
            f"{label_path}: labels must lie in [0, {num_classes}), found {int(labels.min())}..{int(labels.max())}"
        )
    scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0
    x = (images.astype(np.float32) * np.float32(scale))[:, None, :, :]
    return x, labels.astype(np.int64)


def _load(kind: str, root, flatten: bool, val_fraction: float, seed: int) -> DataSplits:
    title, subdirs, source, class_names = _SOURCES[kind]
    dirs = candidate_dirs(root, subdirs)
    paths = {role: find_file(dirs, name) for role, name in MNIST_FILES.items()}
    missing = [MNIST_FILES[r] for r, p in paths.items() if p is None]
    if missing:
        raise missing_files_error(title, dirs, missing, list(MNIST_FILES.values()), source)
    val_fraction = check_fraction("val_fraction", val_fraction)
    n_classes = len(class_names)
    x_train, y_train = _images_labels(paths["train_images"], paths["train_labels"], n_classes)
    x_val, y_val = _images_labels(paths["val_images"], paths["val_labels"], n_classes)
    input_shape = tuple(x_train.shape[1:])
    if flatten:
        x_train, x_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)
        input_shape = (int(x_train.shape[1]),)
    if val_fraction:  # hold out part of the training files instead of using the test files
        train, val = split_arrays((x_train, y_train), val_fraction, seed)
    else:
        train, val = TensorDataset(x_train, y_train), TensorDataset(x_val, y_val)
    return DataSplits(train, val, input_shape=input_shape, num_classes=n_classes, target_shape=(),
                      name=kind, class_names=class_names)


def mnist(root: str = "data", flatten: bool = False, val_fraction: float = 0.0, seed: int = 0) -> DataSplits:
    """MNIST handwritten digits from the four IDX files in ``root``.

    Looks in ``root``, ``root/MNIST/raw`` (torchvision's layout) and ``root/mnist``
    for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or ``.gz``.
    Images become float32 in [0, 1] of shape (1, 28, 28) (or 784 with ``flatten``).

    Args:
        root: folder holding the files.
        flatten: return each image as a 784-vector (for an MLP).
        val_fraction: 0 (default) validates on the official t10k test files; a
            fraction > 0 holds out that share of the training files instead.
        seed: the split seed when ``val_fraction > 0``.

    Raises:
        DataFileNotFoundError: a file is missing (the message names the folders
            searched, the files expected and the download page).
        DataFormatError: a file is not valid IDX or the counts disagree.
    """
    return _load("mnist", root, flatten, val_fraction, seed)


def fashion_mnist(root: str = "data", flatten: bool = False, val_fraction: float = 0.0,
                  seed: int = 0) -> DataSplits:
    """Fashion-MNIST (Zalando): same files, names and layout as ``mnist``.

    Looks in ``root``, ``root/FashionMNIST/raw``, ``root/fashion_mnist`` and
    ``root/fashion-mnist``. See ``mnist`` for the arguments and errors.
    """
    return _load("fashion_mnist", root, flatten, val_fraction, seed)
