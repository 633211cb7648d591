"""User data from one ``.npz`` file (``numpy.savez``), loaded without pickle.

Either the file holds explicit splits (``x_train``, ``y_train`` and optionally
``x_val``, ``y_val``) or one ``x``/``y`` pair that is split by ``val_fraction``.
Key names are configurable, e.g. ``data.x_key=images data.y_key=labels``.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .dataset import TensorDataset
from .errors import DataFileNotFoundError, DataFormatError
from .splits import DataSplits, check_fraction, split_arrays

__all__ = ["npz"]


def _get(archive, path: Path, key: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise DataFormatError(f"{path}: array {key!r} cannot be loaded without pickle ({exc}); "
                              "store plain numeric arrays") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: array {key!r} is corrupt ({exc})") from exc


def _check_pair(path: Path, x, y, xk: str, yk: str):
    if x.ndim == 0 or y.ndim == 0:
        raise DataFormatError(f"{path}: {xk!r} and {yk!r} must have a sample dimension, got shapes "
                              f"{x.shape} and {y.shape}")
    if len(x) != len(y):
        raise DataFormatError(f"{path}: {xk!r} has {len(x)} samples but {yk!r} has {len(y)}")
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise DataFormatError(f"{path}: {xk!r} ({x.dtype}) and {yk!r} ({y.dtype}) must be numeric")


def npz(path: str = "data.npz", x_train_key: str = "x_train", y_train_key: str = "y_train",
        x_val_key: str = "x_val", y_val_key: str = "y_val", x_key: str = "x", y_key: str = "y",
        val_fraction: float = 0.2, seed: int = 0, num_classes: int | None = None,
        scale: float | None = None) -> DataSplits:
    """Train/val datasets from arrays in an ``.npz`` file.

    Lookup order: if ``x_train_key`` is in the file, ``x_train``/``y_train`` are the
    training set and ``x_val``/``y_val`` (when present) the validation set, else
    ``val_fraction`` of the training set is held out. Otherwise ``x_key``/``y_key``
    are split by ``val_fraction`` with ``seed``.

    Inputs become float32 (multiplied by ``scale`` when given, e.g. 1/255 for
    uint8 images). Integer targets mean classification with ``num_classes``
    (default ``max(label) + 1``); floating targets mean regression, and 1-D
    ones are reshaped to ``(N, 1)`` to match a model's ``(N, 1)`` output.

    Raises:
        DataFileNotFoundError: ``path`` does not exist.
        DataFormatError: the file is not a readable ``.npz``, lacks the keys
            (the message lists the keys present and those looked for), or its
            arrays disagree in length or hold labels outside ``[0, num_classes)``.
    """
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise DataFileNotFoundError(
            f"npz: file {str(file.resolve())!r} not found. Expected an .npz written by numpy.savez "
            f"holding {x_train_key!r}/{y_train_key!r} (and optionally {x_val_key!r}/{y_val_key!r}) "
            f"or {x_key!r}/{y_key!r}; set data.path to it."
        )
    val_fraction = check_fraction("val_fraction", val_fraction)
    with open(file, "rb") as handle:  # our handle, closed even when numpy rejects the file
        try:
            archive = np.load(handle, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise DataFormatError(f"{file}: not a readable .npz archive ({exc})") from exc
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataFormatError(f"{file}: holds a single array (.npy), not an .npz archive of named arrays")
        with archive:
            x_tr, y_tr, x_va, y_va = _read_arrays(archive, file, x_train_key, y_train_key, x_val_key,
                                                  y_val_key, x_key, y_key)
    return _build(file, x_tr, y_tr, x_va, y_va, val_fraction, seed, num_classes, scale)


def _read_arrays(archive, file: Path, x_train_key, y_train_key, x_val_key, y_val_key, x_key, y_key):
    """``(x_train, y_train, x_val, y_val)`` from the archive by the lookup order of ``npz``."""
    keys = set(archive.files)
    if x_train_key in keys:
        if y_train_key not in keys:
            raise DataFormatError(f"{file}: has {x_train_key!r} but no {y_train_key!r}; keys present: {sorted(keys)}")
        x_tr, y_tr = _get(archive, file, x_train_key), _get(archive, file, y_train_key)
        _check_pair(file, x_tr, y_tr, x_train_key, y_train_key)
        has_val = x_val_key in keys
        if has_val != (y_val_key in keys):
            raise DataFormatError(f"{file}: {x_val_key!r} and {y_val_key!r} must both be present or both absent; "
                                  f"keys present: {sorted(keys)}")
        if has_val:
            x_va, y_va = _get(archive, file, x_val_key), _get(archive, file, y_val_key)
            _check_pair(file, x_va, y_va, x_val_key, y_val_key)
        else:
            x_va = y_va = None
    elif x_key in keys and y_key in keys:
        x_tr, y_tr = _get(archive, file, x_key), _get(archive, file, y_key)
        _check_pair(file, x_tr, y_tr, x_key, y_key)
        x_va = y_va = None
    else:
        raise DataFormatError(
            f"{file}: found keys {sorted(keys)}; expected {x_train_key!r}/{y_train_key!r} "
            f"(optionally {x_val_key!r}/{y_val_key!r}) or {x_key!r}/{y_key!r} "
            "(set x_train_key, y_train_key, x_val_key, y_val_key, x_key or y_key to your names)"
        )
    return x_tr, y_tr, x_va, y_va


def _features(x, scale):
    x = np.asarray(x, dtype=np.float32)
    return x * np.float32(scale) if scale is not None else x


def _class_targets(file, y_tr, y_va, num_classes):
    """Integer labels as int64 and the class count (default: max label + 1), checked."""
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
    y_tr = y_tr.astype(np.int64)
    y_va = None if y_va is None else y_va.astype(np.int64)
    both = y_tr.ravel() if y_va is None else np.concatenate([y_tr.ravel(), y_va.ravel()])
    low, top = (int(both.min()), int(both.max())) if both.size else (0, 0)
    limit = top + 1 if num_classes is None else int(num_classes)
    if low < 0 or top >= limit:
        raise DataFormatError(f"{file}: class labels must lie in [0, {limit}), found {low}..{top}")
    return y_tr, y_va, limit


def _regression_targets(y):
    """Floating targets as float32; 1-D ones become (N, 1) like a model's single output."""
    y = np.asarray(y, dtype=np.float32)
    return y.reshape(len(y), 1) if y.ndim == 1 else y


def _build(file, x_tr, y_tr, x_va, y_va, val_fraction, seed, num_classes, scale) -> DataSplits:
    if x_va is not None and x_va.shape[1:] != x_tr.shape[1:]:
        raise DataFormatError(f"{file}: train samples have shape {x_tr.shape[1:]} but val samples {x_va.shape[1:]}")
    classification = y_tr.dtype.kind in "iub"
    if classification:
        y_tr, y_va, num_classes = _class_targets(file, y_tr, y_va, num_classes)
        target_shape = ()
    else:
        if num_classes is not None:
            raise ValueError(f"num_classes={num_classes} was given but {file}'s targets are {y_tr.dtype} "
                             "(floating targets mean regression; store integer class labels)")
        y_tr, y_va = _regression_targets(y_tr), None if y_va is None else _regression_targets(y_va)
        target_shape = tuple(y_tr.shape[1:])
    x_tr = _features(x_tr, scale)
    if x_va is not None:
        train, val = TensorDataset(x_tr, y_tr), TensorDataset(_features(x_va, scale), y_va)
    elif val_fraction:
        train, val = split_arrays((x_tr, y_tr), val_fraction, seed)
    else:
        train, val = TensorDataset(x_tr, y_tr), None
    return DataSplits(train, val, input_shape=tuple(x_tr.shape[1:]),
                      num_classes=num_classes if classification else None,
                      target_shape=target_shape, name="npz")
