"""scikit-learn's 8x8 handwritten digits (1797 images), for the optional ``datasets`` extra."""
from __future__ import annotations

import numpy as np

from .errors import MissingDependencyError
from .splits import DataSplits, check_fraction, split_arrays

__all__ = ["digits"]


def digits(val_fraction: float = 0.2, seed: int = 0, flatten: bool = False) -> DataSplits:
    """The UCI digits via ``sklearn.datasets.load_digits`` (bundled with scikit-learn, no download).

    Images are float32 in [0, 1] (the raw 0..16 grey levels divided by 16) of
    shape (1, 8, 8), or 64 features with ``flatten``; 10 classes.

    Raises:
        MissingDependencyError: scikit-learn is not installed; install
            ``trainkit[datasets]``.
    """
    val_fraction = check_fraction("val_fraction", val_fraction)
    try:
        from sklearn.datasets import load_digits  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise MissingDependencyError(
            "the 'digits' dataset needs scikit-learn, which is not installed "
            f"({exc}); install it with: pip install 'trainkit[datasets]'"
        ) from exc
    bunch = load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None, :, :]
    labels = np.asarray(bunch.target, dtype=np.int64)
    input_shape = (1, 8, 8)
    if flatten:
        images, input_shape = images.reshape(len(images), -1), (64,)
    train, val = split_arrays((images, labels), val_fraction, seed)
    return DataSplits(train, val, input_shape=input_shape, num_classes=10, target_shape=(),
                      name="digits", class_names=tuple(str(i) for i in range(10)))
