"""The numba col2im kernel gives the plain numpy path's numbers; max pooling routes like torch."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit.backend import numba_available, numba_unavailable_reason
from trainkit.nn import functional as F
from trainkit.nn.functional import _cpu_kernels

if not numba_available():  # missing, or TRAINKIT_DISABLE_NUMBA: the numpy paths are checked elsewhere
    pytest.skip(f"no numba kernels: {numba_unavailable_reason()}", allow_module_level=True)

CONFIGS = [
    dict(stride=1, padding=2),
    dict(stride=2, padding=1, dilation=2),
    dict(stride=(2, 1), padding=(0, 3), groups=2),
]


def _run(fn, *arrays, enabled):
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = enabled
    try:
        tensors = [trainkit.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*tensors)
        out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype))
        return [out.numpy()] + [t.grad for t in tensors]
    finally:
        _cpu_kernels.ENABLED = old


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["pad", "stride_dil", "groups"])
def test_conv_kernels_match_numpy_path(cfg, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((6, 4 // cfg.get("groups", 1), 3, 5)).astype(dtype)
    fast = _run(lambda x, w: F.conv2d(x, w, **cfg), x, w, enabled=True)
    plain = _run(lambda x, w: F.conv2d(x, w, **cfg), x, w, enabled=False)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_return_indices_are_torch_flat_indices():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)[:, :, ::-1].copy()
    out, idx = F.max_pool2d(trainkit.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), [[[[1, 3], [9, 11]]]])
    np.testing.assert_array_equal(out.numpy(), x.reshape(-1)[idx.numpy()])


@pytest.mark.torch
@pytest.mark.parametrize("relu", [False, True], ids=["distinct", "tied_zeros"])
def test_maxpool_indices_and_tie_routing_equal_torch(torch, relu):
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 6)).astype(np.float32)
    if relu:
        x = np.maximum(x, 0)  # many tied zeros: gradient goes to the first one, as torch
    xt = trainkit.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(xt, 3, 2, 1, ceil_mode=True, return_indices=True)
    g = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    tx = torch.from_numpy(x).requires_grad_(True)
    t_out, t_idx = torch.nn.functional.max_pool2d(tx, 3, 2, 1, ceil_mode=True, return_indices=True)
    t_out.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(out.numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=2, stride=1, dilation=2)])
def test_maxpool_scatter_kernel_matches_numpy_path(kwargs):
    x = np.maximum(np.random.default_rng(0).standard_normal((2, 3, 7, 6)), 0).astype(np.float32)  # tied zeros
    fast = _run(lambda x: F.max_pool2d(x, **kwargs), x, enabled=True)
    plain = _run(lambda x: F.max_pool2d(x, **kwargs), x, enabled=False)
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_array_equal(fast[1] != 0, plain[1] != 0)  # same routing
    np.testing.assert_allclose(fast[1], plain[1], rtol=1e-6, atol=1e-7)  # overlapping sums may reorder


def test_maxpool_nan_propagates_and_routes_gradient():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]], dtype=np.float32)
    xt = trainkit.tensor(x, requires_grad=True)
    out = F.max_pool2d(xt, 2)
    assert np.isnan(out.numpy()).all()
    out.backward(np.ones((1, 1, 1, 1), dtype=np.float32))
    np.testing.assert_array_equal(xt.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (2, 3, 7, 6), (1, 2, 6, 9), (1, 1, 5, 5)])
def test_maxpool_2x2_kernels_match_numpy_path(shape, dtype):
    """The 2x2 / stride 2 kernels: same values, offsets and gradient routing, odd edges zeroed."""
    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal(shape), 0).astype(dtype)  # tied zeros
    x.reshape(-1)[rng.choice(x.size, 3, replace=False)] = np.nan  # NaN in some windows
    fast = _run(lambda x: F.max_pool2d(x, 2), x, enabled=True)
    plain = _run(lambda x: F.max_pool2d(x, 2), x, enabled=False)
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_array_equal(fast[1], plain[1])
    idx_fast = F.max_pool2d(trainkit.tensor(x), 2, return_indices=True)[1].numpy()
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = False
    try:
        idx_plain = F.max_pool2d(trainkit.tensor(x), 2, return_indices=True)[1].numpy()
    finally:
        _cpu_kernels.ENABLED = old
    np.testing.assert_array_equal(idx_fast, idx_plain)
    assert F.max_pool2d(trainkit.tensor(x, requires_grad=True), 2)._ctx.fast is not None  # the kernel ran


def test_maxpool_2x2_kernel_takes_noncontiguous_input():
    x = np.random.default_rng(6).standard_normal((2, 6, 8, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    fast = _run(lambda x: F.max_pool2d(x, 2), x, enabled=True)
    plain = _run(lambda x: F.max_pool2d(x, 2), x, enabled=False)
    for a, b in zip(fast, plain):
        np.testing.assert_array_equal(a, b)


def test_maxpool_2x2_backward_without_the_kernel_after_a_fast_forward():
    """Switching the kernels off between forward and backward falls back to the generic scatter."""
    x = np.random.default_rng(7).standard_normal((2, 3, 8, 8))
    xt = trainkit.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = False
    try:
        y.sum().backward()
    finally:
        _cpu_kernels.ENABLED = old
    ref = trainkit.tensor(x, requires_grad=True)
    F.max_pool2d(ref, 2).sum().backward()  # kernels on both ways
    assert np.count_nonzero(ref.grad) == y.numel()
    np.testing.assert_array_equal(xt.grad, ref.grad)
