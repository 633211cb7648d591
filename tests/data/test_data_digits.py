"""digits through scikit-learn, and the message when it is missing."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from trainkit.data import MissingDependencyError, digits


def test_digits_from_sklearn():
    pytest.importorskip("sklearn")
    data = digits(val_fraction=0.25, seed=0)
    assert len(data.train) + len(data.val) == 1797
    x, y = data.train.arrays
    assert x.shape[1:] == (1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert data.num_classes == 10 and set(np.unique(y)) == set(range(10))
    assert digits(flatten=True).input_shape == (64,)


def test_missing_sklearn_says_to_install_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'trainkit\[datasets\]'") as info:
        digits()
    assert isinstance(info.value, ImportError)
