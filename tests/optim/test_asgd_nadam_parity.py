"""ASGD and NAdam against torch at float64 over 30 steps (1e-10 relative), torch's default dtype unchanged.

torch keeps ASGD's ``eta``/``mu`` and NAdam's ``mu_product`` in its scalar
dtype (float32 by default) also for float64 parameters; trainkit does the same
(``trainkit.optim.scalar_state``), so the trajectories agree to float64
round-off rather than to float32's. Without torch the committed fixtures
(``tests/fixtures/optim``, recorded with torch's default dtype) cover 20 steps.
"""
from __future__ import annotations

import numpy as np
import pytest

import trainkit.optim as tk_optim
from trainkit.nn import Parameter

pytestmark = pytest.mark.torch

CASES = [
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.02, lambd=1e-2, alpha=0.5, t0=3.0, weight_decay=0.01)),
    ("ASGD", dict(lr=0.1, t0=1.0, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.02, momentum_decay=1e-2, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, decoupled_weight_decay=True, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_float64_trajectory_matches_torch_for_30_steps(name, kwargs, torch):
    assert torch.get_default_dtype() == torch.float32  # as users run it
    rng = np.random.default_rng(7)
    inits = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    mine = [Parameter(x.copy()) for x in inits]
    theirs = [torch.nn.Parameter(torch.tensor(x)) for x in inits]
    opt = getattr(tk_optim, name)(mine, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(30):
        for p, tp in zip(mine, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(p.data.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-13,
                                       err_msg=f"{name} step {step} param {k}")
