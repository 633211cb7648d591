"""zero_grad(set_to_none=True) and gradients the user keeps (finding: flat grad buffer reuse).

torch gives every backward pass a fresh gradient tensor after ``zero_grad()``,
so ``acc = w.grad`` keeps its values. trainkit reuses one flat gradient buffer
per bucket; it must notice a kept gradient and give the bucket a new buffer,
and must not reallocate in the usual loop.
"""
from __future__ import annotations

import weakref

import numpy as np
import pytest

from trainkit import nn
from trainkit.autograd import Tensor
from trainkit.nn import Parameter
from trainkit.optim import SGD, Adam


def _linear(seed=0):
    lin = nn.Linear(3, 1)
    rng = np.random.default_rng(seed)
    lin.weight.data[...] = rng.standard_normal(lin.weight.shape)
    lin.bias.data[...] = rng.standard_normal(lin.bias.shape)
    return lin


def _accumulate_by_hand(lin, opt):
    """The reviewer's reproducer: keep the first gradient, zero_grad, add the second."""
    x1, x2 = np.ones((2, 3), np.float32), 2 * np.ones((2, 3), np.float32)
    opt.zero_grad()
    lin(Tensor(x1)).sum().backward()
    acc = lin.weight.grad
    opt.zero_grad()
    lin(Tensor(x2)).sum().backward()
    return acc, lin.weight.grad


def test_kept_gradient_survives_zero_grad():
    lin = _linear()
    opt = SGD(lin.parameters(), lr=0.1)
    acc, g2 = _accumulate_by_hand(lin, opt)
    # d(sum(x @ w.T + b))/dw = column sums of x: 2 for x1, 4 for x2.
    np.testing.assert_array_equal(acc, np.full((1, 3), 2.0))
    np.testing.assert_array_equal(g2, np.full((1, 3), 4.0))
    np.testing.assert_array_equal(acc + g2, np.full((1, 3), 6.0))
    # the new gradient still lands in the optimizer's (new) flat buffer
    assert lin.weight.grad_array is lin.weight._grad_view
    opt.step()
    np.testing.assert_array_equal(lin.bias.grad, [2.0])  # two rows


def test_kept_gradient_matches_torch(torch):
    lin = _linear()
    acc, g2 = _accumulate_by_hand(lin, SGD(lin.parameters(), lr=0.1))
    tlin = torch.nn.Linear(3, 1)
    topt = torch.optim.SGD(tlin.parameters(), lr=0.1)
    topt.zero_grad()
    tlin(torch.ones((2, 3))).sum().backward()
    tacc = tlin.weight.grad
    topt.zero_grad()
    tlin(2 * torch.ones((2, 3))).sum().backward()
    np.testing.assert_array_equal(acc + g2, (tacc + tlin.weight.grad).numpy())


def _train(keep, fused, steps=4):
    lin = _linear()
    opt = Adam(lin.parameters(), lr=0.01, fused=fused)
    rng = np.random.default_rng(1)
    history, expected = [], []
    for _ in range(steps):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        opt.zero_grad()
        lin(Tensor(x)).sum().backward()
        expected.append(x.sum(axis=0, keepdims=True))
        if keep:
            history.append(lin.weight.grad)
        opt.step()
    return lin.weight.data.copy(), history, expected


@pytest.mark.parametrize("fused", [False, True])
def test_gradient_history_kept_in_a_list(fused):
    weights, history, expected = _train(keep=True, fused=fused)
    for kept, want in zip(history, expected):
        np.testing.assert_allclose(kept, want, rtol=1e-6)
    # keeping gradients (new buffers, kernels bound again) does not change the trajectory
    np.testing.assert_array_equal(weights, _train(keep=False, fused=fused)[0])


def test_view_of_a_gradient_is_detected_too():
    """``w.grad.reshape(-1)`` references the flat buffer, not the ``w.grad`` array object."""
    lin = _linear()
    opt = SGD(lin.parameters(), lr=0.0)
    kept = []
    for scale in (1.0, 2.0, 3.0):
        opt.zero_grad()
        lin(Tensor(scale * np.ones((4, 3), np.float32))).sum().backward()
        kept.append(lin.weight.grad.reshape(-1))
        assert kept[-1].array.base is opt._buckets[0][0].grad
        opt.step()
    for view, scale in zip(kept, (1.0, 2.0, 3.0)):
        np.testing.assert_array_equal(view, np.full(3, 4.0 * scale))


def test_usual_loop_reuses_the_gradient_buffer():
    lin = _linear()
    opt = Adam(lin.parameters(), lr=0.01)
    bucket = opt._buckets[0][0]
    buffer = weakref.ref(bucket.grad)  # a weak reference is not a kept gradient
    rng = np.random.default_rng(2)
    for _ in range(5):
        opt.zero_grad()
        loss = (lin(Tensor(rng.standard_normal((4, 3)).astype(np.float32))) ** 2).mean()
        loss.backward()
        opt.step()
    opt.zero_grad()
    assert opt._buckets[0][0] is bucket and bucket.grad is buffer()
    assert all(p._grad_view.base is bucket.grad for p in lin.parameters())


def test_set_to_none_false_zeroes_in_place_like_torch():
    p = Parameter(np.ones(3))
    opt = SGD([p], lr=0.1)
    p.grad = np.full(3, 2.0)
    opt.step()
    kept = p.grad_array
    opt.zero_grad(set_to_none=False)
    assert p.grad_array is kept
    np.testing.assert_array_equal(kept, 0.0)


def test_kept_gradient_of_one_bucket_leaves_the_other_alone():
    a = Parameter(np.ones(2, np.float32))
    b = Parameter(np.ones(2, np.float64))  # another dtype: another bucket
    opt = SGD([a, b], lr=0.1)
    bucket_a, bucket_b = sorted(opt._buckets[0], key=lambda bk: bk.dtype.itemsize)
    ref_a, ref_b = weakref.ref(bucket_a.grad), weakref.ref(bucket_b.grad)
    a.grad = np.ones(2, np.float32)
    b.grad = np.ones(2)
    opt.step()
    kept = a.grad
    opt.zero_grad()
    assert bucket_a.grad is not ref_a() and bucket_b.grad is ref_b()
    assert a._grad_view.base is bucket_a.grad
    np.testing.assert_array_equal(kept, 1.0)
