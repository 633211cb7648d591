"""The numpy error function (exact GELU's erf without scipy) is float64-exact."""
from __future__ import annotations

import math

import numpy as np

from trainkit.nn.functional import _erf


def test_numpy_erf_is_float64_exact():
    u = np.concatenate([np.linspace(-7, 7, 200_001), [1e-300, -1e-20, 5e-10, 0.999999, 1.0, 5.999, 6.0, 30.0]])
    ref = np.array([math.erf(v) for v in u])
    got = _erf.erf(u)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) < 1e-15
    special = _erf.erf(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0]))
    assert np.isnan(special[0]) and list(special[1:3]) == [1.0, -1.0]
    assert np.signbit(special[4]) and not np.signbit(special[3])
    assert _erf.erf(np.float32([0.5])).dtype == np.float32
