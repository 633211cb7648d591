"""Flat buffers stay invisible: views, reassignment, skipped grads, dtype/device of state."""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import SGD, Adam


def test_params_and_grads_view_one_buffer(xp):
    ps = [Parameter(xp.ones((2, 3), dtype=xp.float32)), Parameter(xp.zeros(4, dtype=xp.float32))]
    opt = Adam(ps, lr=0.1)
    bucket = opt._buckets[0][0]
    assert all(p.array.base is bucket.data or p.array.base is bucket.data.base for p in ps)
    assert ps[0]._grad_view.shape == (2, 3)
    assert ps[0].data.dtype == xp.float32


def test_autograd_writes_into_the_grad_view():
    from trainkit.autograd import ops

    p = Parameter(np.arange(3.0))
    opt = SGD([p], lr=0.5)
    ops.sum(ops.mul(p, p)).backward()
    assert p.grad_array is p._grad_view
    opt.step()
    np.testing.assert_allclose(p.data, np.arange(3.0) - 0.5 * 2 * np.arange(3.0))
    opt.zero_grad()
    assert p.grad is None and p._grad_view is not None


def test_reassigned_data_and_grad_are_picked_up():
    p, q = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = SGD([p, q], lr=0.1)
    p.data = np.full(3, 5.0)       # user replaced the array (e.g. loading weights)
    p.grad = np.full(3, 1.0)       # a fresh array, not the view
    q.grad = np.full(2, 2.0)
    opt.step()
    np.testing.assert_allclose(p.data, 4.9)
    np.testing.assert_allclose(q.data, 0.8)
    assert p.array.base is not None  # re-viewed into the buffer


def test_dtype_change_relayouts_and_keeps_state():
    p = Parameter(np.ones(3))
    opt = Adam([p], lr=0.1)
    p.grad = np.ones(3)
    opt.step()
    p.data = p.data.astype(np.float32)
    p.grad = np.ones(3, dtype=np.float32)
    opt.step()
    st = opt.state[p]
    assert st["exp_avg"].dtype == np.float32 and st["step"] == 2.0


def test_skipped_parameter_gets_no_state_and_separate_step_counts():
    a, b, c = (Parameter(np.ones(2)) for _ in range(3))
    opt = Adam([a, b, c], lr=0.1)
    for s in range(3):
        a.grad = np.ones(2)
        b.grad = None if s < 2 else np.ones(2)
        c.grad = np.ones(2)
        opt.step()
    assert opt.state[a]["step"] == 3.0 and opt.state[b]["step"] == 1.0
    # b's first step is Adam's first step: |update| == lr
    np.testing.assert_allclose(b.data, 1 - 0.1, rtol=1e-7)


def test_state_edits_act_in_place():
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=1.0, momentum=0.5)
    p.grad = np.ones(2)
    opt.step()
    opt.state[p]["momentum_buffer"][...] = 10.0
    opt.step()
    np.testing.assert_allclose(p.data, 1 - 1 - (0.5 * 10 + 1))


def test_zero_grad_to_zeros_keeps_arrays():
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=1.0)
    p.grad = np.ones(2)
    opt.step()
    g = p.grad_array
    opt.zero_grad(set_to_none=False)
    assert p.grad_array is g and not p.grad_array.any()


def test_state_has_parameter_dtype(xp):
    for dtype in (xp.float32, xp.float64):
        p = Parameter(xp.ones(3, dtype=dtype))
        opt = Adam([p], amsgrad=True)
        p.grad = xp.ones(3, dtype=dtype)
        opt.step()
        assert all(opt.state[p][k].dtype == dtype for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"))


def test_repr_lists_groups():
    opt = SGD([Parameter(np.ones(2))], lr=0.1)
    assert "Parameter Group 0" in repr(opt) and "lr: 0.1" in repr(opt)


@pytest.mark.parametrize("fused", [False, True])
def test_mixed_dtypes_in_one_group(fused):
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2, dtype=np.float32))
    opt = SGD([a, b], lr=0.5, fused=fused)
    a.grad, b.grad = np.ones(2), np.ones(2, dtype=np.float32)
    opt.step()
    assert len(opt._buckets[0]) == 2
    np.testing.assert_allclose(a.data, 0.5)
    np.testing.assert_allclose(b.data, 0.5)
    assert b.data.dtype == np.float32
