"""The fused backends give the plain path's numbers (one rule, every backend).

CPU: the numba kernel must equal the numpy path bit for bit (float64 and
float32: scalars are cast to the parameter dtype exactly as numpy does, and
fastmath is off). GPU: the cupy kernel must match the plain cupy path to
round-off (CUDA may contract multiply-adds). Cases run the fixture gradients,
so skipped parameters (several kernel launches per step) are covered too.
"""
from __future__ import annotations

import numpy as np
import pytest

from optim_reference import CASES, replay

# One case per element-wise algorithm with many options on; every case is run in the slow set.
FAST = [
    "sgd_nesterov_wd", "sgd_dampening_max", "adam_amsgrad_wd", "adamw_default", "adamax_wd_max",
    "adadelta_opts", "adagrad_opts", "asgd_opts", "nadam_decoupled_max", "radam_wd_fast_rect",
    "rmsprop_centered_momentum_wd", "rprop_opts",
]
ELEMENTWISE = [n for n, c in CASES.items() if c["cls"] not in ("LBFGS", "Muon", "Adafactor", "SparseAdam")]
PARAMS = [(n, "float64") for n in FAST] + [("adam_amsgrad_wd", "float32"), ("sgd_nesterov_wd", "float32")]
PARAMS += [
    pytest.param(n, d, marks=pytest.mark.slow)
    for n in ELEMENTWISE for d in ("float64", "float32") if (n, d) not in PARAMS
]


@pytest.mark.parametrize("name,dtype", PARAMS)
def test_fused_equals_plain(name, dtype, device):
    case = CASES[name]
    plain, _ = replay(case, dtype, device, fused=False)
    fused, _ = replay(case, dtype, device, fused=True)
    for a, b in zip(plain, fused):
        if device == "cpu":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12 if dtype == "float64" else 1e-6)


@pytest.mark.numba
def test_default_backend_is_fused_on_cpu(monkeypatch):
    from trainkit.optim.kernels.rule import default_backend

    assert default_backend(np) == "numba"
    monkeypatch.setenv("TRAINKIT_OPTIM_BACKEND", "numpy")
    assert default_backend(np) == "numpy"


@pytest.mark.numba
def test_fused_on_large_float32_buffer_is_bit_identical():
    """Many elements (vector lanes and the loop tail) with extreme values."""
    from trainkit.optim.adam import RULE as ADAM
    from trainkit.optim.kernels import run_rule

    rng = np.random.default_rng(3)
    n = 100_003
    base = {name: rng.standard_normal(n).astype(np.float32) for name in ADAM.arrays}
    base["exp_avg_sq"] = np.abs(base["exp_avg_sq"]) * np.float32(1e-8)
    base["max_exp_avg_sq"] = np.abs(base["max_exp_avg_sq"])
    scalars = dict(weight_decay=0.1, decay_factor=0.999, one_minus_beta1=0.1, beta2=0.999, one_minus_beta2=0.001,
                   bias_correction2_sqrt=0.0316, eps=1e-8, step_size=0.0123)
    flags = dict(maximize=True, l2=True, decoupled=False, amsgrad=True)
    out = []
    for backend in ("numpy", "numba"):
        arrays = {k: v.copy() for k, v in base.items()}
        run_rule(ADAM, arrays, scalars, flags, backend=backend)
        out.append(arrays)
    for name in ADAM.outputs:
        np.testing.assert_array_equal(out[0][name], out[1][name], err_msg=name)
    assert not np.array_equal(out[0]["param"], base["param"])
