"""Live comparison with the installed torch (skipped without torch): re-record and replay every case."""
from __future__ import annotations

import numpy as np
import pytest

from optim_reference import CASES, META, load_generator, replay

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def generator():
    pytest.importorskip("torch")
    return load_generator()


_FIRST_PER_CLASS = sorted({c["cls"]: n for n, c in reversed(list(CASES.items()))}.values())
_NAMES = [n if n in _FIRST_PER_CLASS else pytest.param(n, marks=pytest.mark.slow) for n in sorted(CASES)]


@pytest.mark.parametrize("name", _NAMES)
def test_live_float64(name, generator, torch):
    case = CASES[name]
    fresh = generator.record(torch, case["index"], case["cls"], case["kwargs"], "float64")
    inputs = generator.draw_inputs(case["index"], case["cls"])
    arrays = {f"{name}/{k}": v for k, v in inputs.items()}
    traj, losses = replay(case, "float64", arrays=arrays)
    tol = dict(rtol=1e-8, atol=1e-10) if case["cls"] == "LBFGS" else dict(rtol=1e-10, atol=1e-12)
    for k, got in enumerate(traj):
        np.testing.assert_allclose(got, fresh[f"traj_{k}"], err_msg=f"{name} param {k}", **tol)
    assert META["steps"] == len(traj[0])


def test_muon_bfloat16_difference_is_only_round_off(torch):
    """torch's own Muon (bfloat16 Newton-Schulz) stays within bfloat16 round-off of trainkit's."""
    from trainkit.nn import Parameter
    from trainkit.optim import Muon

    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((6, 4))
    p = Parameter(w0.copy())
    tp = torch.nn.Parameter(torch.tensor(w0))
    opt, topt = Muon([p], lr=0.02), torch.optim.Muon([tp], lr=0.02)
    for _ in range(5):
        g = rng.standard_normal((6, 4))
        p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
    diff = np.abs(p.data - tp.detach().numpy()).max()
    moved = np.abs(p.data - w0).max()
    assert diff < 0.05 * moved
