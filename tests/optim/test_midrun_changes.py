"""Settings and dtypes that change in the middle of a run, as torch handles them.

* SGD momentum switched on mid-run: torch has no momentum buffer yet, so the
  first step with momentum sets ``buf = grad`` (no dampening), whatever
  ``dampening`` is.
* ``model.to(dtype)`` after the optimizer was built: the array-code optimizers
  (Adafactor, Muon, SparseAdam) cast their state to the parameter's new dtype
  at the next step, as the element-wise ones do.
"""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import SGD, Adafactor, Muon, SparseAdam

GRADS = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0]), np.array([2.0, 1.0])]


def _sgd_by_hand(grads, switch_at, lr=0.1, momentum=0.9, dampening=0.5):
    """torch's SGD with momentum 0 before ``switch_at`` and ``momentum`` from then on."""
    p, buf = np.ones(2), None
    for i, g in enumerate(grads):
        if i < switch_at:
            p = p - lr * g
            continue
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        p = p - lr * buf
    return p


@pytest.mark.parametrize("fused", [False, True])
def test_sgd_momentum_switched_on_mid_run_starts_the_buffer_at_grad(fused):
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=0.1, momentum=0, dampening=0.5, fused=fused)
    for i, g in enumerate(GRADS):
        if i == 2:
            opt.param_groups[0]["momentum"] = 0.9
        p.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(p.data, _sgd_by_hand(GRADS, switch_at=2), rtol=1e-14)


def test_sgd_momentum_switched_on_for_one_of_two_groups_keeps_other_buffers():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = SGD([{"params": [a]}, {"params": [b], "momentum": 0.9}], lr=0.1, momentum=0, dampening=0.5)
    for i, g in enumerate(GRADS):
        if i == 1:
            opt.param_groups[0]["momentum"] = 0.9
        a.grad, b.grad = g.copy(), g.copy()
        opt.step()
    np.testing.assert_allclose(a.data, _sgd_by_hand(GRADS, switch_at=1), rtol=1e-14)
    np.testing.assert_allclose(b.data, _sgd_by_hand(GRADS, switch_at=0), rtol=1e-14)


def test_sgd_momentum_switched_on_matches_torch(torch):
    p = Parameter(np.ones(2))
    tp = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = SGD([p], lr=0.1, dampening=0.3)
    topt = torch.optim.SGD([tp], lr=0.1, dampening=0.3)
    for i, g in enumerate(GRADS):
        if i == 2:
            opt.param_groups[0]["momentum"] = topt.param_groups[0]["momentum"] = 0.8
        p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-14)


@pytest.mark.parametrize("cls", [Adafactor, Muon, SparseAdam])
def test_state_follows_a_dtype_change_of_the_parameter(cls):
    rng = np.random.default_rng(0)
    p = Parameter(rng.standard_normal((3, 4)))
    opt = cls([p], lr=0.01)
    for step in range(4):
        if step == 2:
            p.data = p.data.astype(np.float32)  # what model.to(np.float32) does
        p.grad = rng.standard_normal((3, 4)).astype(p.data.dtype)
        opt.step()
        assert p.data.dtype == (np.float64 if step < 2 else np.float32)
    arrays = {k: v for k, v in opt.state[p].items() if getattr(v, "ndim", 0) > 0}
    assert arrays and all(v.dtype == np.float32 for v in arrays.values()), {k: v.dtype for k, v in arrays.items()}
