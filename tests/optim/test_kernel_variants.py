"""The serial and parallel numba kernels agree bit for bit; ``Adaptive`` picks the faster one."""
from __future__ import annotations

import time

import numpy as np
import pytest

from trainkit.optim.adam import RULE as ADAM
from trainkit.optim.kernels import numba_backend
from trainkit.optim.kernels.adaptive import Adaptive

ADAM_FLAGS = dict(maximize=True, l2=True, decoupled=False, amsgrad=True)


def _adam_arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {name: rng.standard_normal(n).astype(np.float32) for name in ADAM.arrays}
    arrays["exp_avg_sq"] = np.abs(arrays["exp_avg_sq"])
    arrays["max_exp_avg_sq"] = np.abs(arrays["max_exp_avg_sq"])
    return arrays


def test_serial_and_parallel_variants_are_bit_identical():
    scalars = np.array([0.1, 0.999, 0.1, 0.999, 0.001, 0.0316, 1e-8, 0.0123], dtype=np.float32)
    base = _adam_arrays(50_001)
    present = ADAM.arrays
    out = []
    for parallel in (False, True):
        arrays = {k: v.copy() for k, v in base.items()}
        kernel = numba_backend.get_kernel(ADAM, ADAM_FLAGS, present, parallel=parallel)
        kernel(*[arrays[a] for a in present], scalars)
        out.append(arrays)
    for name in ADAM.outputs:
        np.testing.assert_array_equal(out[0][name], out[1][name], err_msg=name)
        assert not np.array_equal(out[0][name], base[name]), name


@pytest.mark.numba
def test_bound_kernel_matches_plain_path_above_the_parallel_threshold(monkeypatch):
    """With a tiny threshold the adaptive serial/parallel runner is used; numbers stay the plain path's."""
    from trainkit.optim.kernels import bind_rule

    monkeypatch.setenv("TRAINKIT_OPTIM_PARALLEL_MIN", "1000")
    scalars = dict(weight_decay=0.1, decay_factor=0.999, one_minus_beta1=0.1, beta2=0.999,
                   one_minus_beta2=0.001, bias_correction2_sqrt=0.0316, eps=1e-8, step_size=0.0123)
    base = _adam_arrays(4_099, seed=1)
    results = {}
    for backend in ("numpy", "numba"):
        arrays = {k: v.copy() for k, v in base.items()}
        run = bind_rule(ADAM, arrays, ADAM_FLAGS, backend=backend)
        for _ in range(12):  # enough calls for the adaptive runner to try both variants
            run(scalars)
        results[backend] = arrays
    for name in ADAM.outputs:
        np.testing.assert_array_equal(results["numpy"][name], results["numba"][name], err_msg=name)


@pytest.mark.parametrize("raw", ["many", "-5"])
def test_bad_parallel_threshold_is_named(monkeypatch, raw):
    monkeypatch.setenv("TRAINKIT_OPTIM_PARALLEL_MIN", raw)
    with pytest.raises(ValueError, match="TRAINKIT_OPTIM_PARALLEL_MIN"):
        numba_backend.parallel_threshold()


def test_small_buffers_never_run_parallel(monkeypatch):
    monkeypatch.delenv("TRAINKIT_OPTIM_PARALLEL_MIN", raising=False)
    assert not numba_backend.may_use_parallel(numba_backend.DEFAULT_PARALLEL_MIN - 1)


class _Fake:
    """A kernel that sleeps ``delay`` seconds and counts its calls."""

    def __init__(self, delay):
        self.delay, self.calls = delay, 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.delay)


def test_adaptive_moves_to_the_faster_kernel_and_probes_rarely():
    slow, fast = _Fake(0.02), _Fake(0.0)
    chooser = Adaptive((slow, fast), choice=0, min_interval=2, max_interval=8)
    for _ in range(40):
        chooser()
    assert chooser.choice == 1
    # after the switch the slow one is only probed, with a growing interval: 2, 4, 8, 8, ...
    assert slow.calls <= 2 + 6
    assert fast.calls + slow.calls == 40


def test_adaptive_returns_when_the_other_kernel_gets_faster():
    a, b = _Fake(0.0), _Fake(0.02)
    chooser = Adaptive((a, b), choice=0, min_interval=2, max_interval=4)
    for _ in range(12):
        chooser()
    assert chooser.choice == 0
    a.delay, b.delay = 0.02, 0.0  # e.g. the machine became idle: the parallel kernel wins now
    for _ in range(30):
        chooser()
    assert chooser.choice == 1


def test_adaptive_needs_two_kernels():
    with pytest.raises(ValueError, match="two kernels"):
        Adaptive((lambda: None,))
