"""The fused numba kernels of GELU, layer norm, the embedding gradient and cross-entropy.

Each kernel is checked against the plain numpy path (``_cpu_kernels.ENABLED =
False``) in float32 and float64, on edge cases (empty, non-contiguous,
ignore_index, padding_idx, extreme values), against float64 finite differences
on both paths, and against torch where torch is importable.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import trainkit
from trainkit.autograd.gradcheck import gradcheck
from trainkit.backend import numba_available, numba_unavailable_reason
from trainkit.nn import functional as F
from trainkit.nn.functional import _cpu_kernels, _erf, _fast_math

if not numba_available():  # the numpy paths are checked by the other nn tests
    pytest.skip(f"no numba kernels: {numba_unavailable_reason()}", allow_module_level=True)


@pytest.fixture(autouse=True)
def kernels_at_any_size(monkeypatch):
    """The tests' small arrays go through the kernels too (by default tiny ones stay on numpy)."""
    monkeypatch.setattr(_cpu_kernels, "KERNEL_MIN_ELEMENTS", 0)


@pytest.fixture(params=[True, False], ids=["numba", "numpy"])
def kernels_on(request):
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = request.param
    yield request.param
    _cpu_kernels.ENABLED = old


def _run(fn, arrays, enabled, grad_seed=1, needs=None):
    """(output, grads of every array) with the numba kernels on or off."""
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = enabled
    try:
        tensors = [trainkit.tensor(a, requires_grad=True if needs is None else needs[i])
                   for i, a in enumerate(arrays)]
        out = fn(*tensors)
        g = np.random.default_rng(grad_seed).standard_normal(out.shape).astype(out.dtype)
        out.backward(g)
        return [out.numpy()] + [t.grad for t in tensors if t.requires_grad]
    finally:
        _cpu_kernels.ENABLED = old


def _close(fast, plain, dtype, rtol32=2e-6, atol32=2e-6):
    for a, b in zip(fast, plain):
        if dtype == np.float32:
            np.testing.assert_allclose(a, b, rtol=rtol32, atol=atol32)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------------------- erf / fast math


def test_fast_erf_constants_are_the_documented_fit():
    np.testing.assert_allclose(_erf.fit_fast_erf(), _fast_math.ERF_POLY, rtol=1e-6, atol=1e-24)


def test_fast_math_accuracy():
    import numba

    s = _fast_math.scalars()
    erf_poly, exp_neg = s["erf_poly"], s["exp_neg"]

    @numba.njit
    def run(u, v, a, b):
        for i in range(u.size):
            a[i] = erf_poly(u[i])
            b[i] = exp_neg(v[i])

    u = np.linspace(-6, 6, 100_001)
    v = np.linspace(0, 140, 100_001)
    a, b = np.empty_like(u), np.empty_like(v)
    run(u, v, a, b)
    assert np.max(np.abs(a - np.array([math.erf(x) for x in u]))) < 2e-8  # below float32's half-ulp of 1
    ref = np.exp(-v)
    ok = v <= 100
    assert np.max(np.abs(b[ok] - ref[ok]) / ref[ok]) < 5e-9
    assert np.all(b[v > 128] == 0)
    run(np.array([np.nan]), np.array([np.nan]), a[:1], b[:1])
    assert np.isnan(b[0])


# ---------------------------------------------------------------------------- GELU


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_kernel_matches_numpy_path(approximate, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((300, 517)) * 3).astype(dtype)  # > PARALLEL_MIN elements: the parallel loop
    x[0, :6] = [0.0, -0.0, 40.0, -40.0, 1e-30, -9.0]
    fn = lambda t: F.gelu(t, approximate=approximate)
    fast, plain = _run(fn, [x], True), _run(fn, [x], False)
    if dtype == np.float32:  # the float32 kernel computes in float64: compare with float64, and float32 loosely
        _close(fast, _run(fn, [x.astype(np.float64)], False), dtype, rtol32=1e-6, atol32=2e-7)
        _close(fast, plain, dtype, rtol32=1e-5, atol32=1e-5)
    else:
        _close(fast, plain, dtype)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_kernel_edge_shapes(approximate):
    for x in (np.zeros((0, 3), np.float32), np.float32(1.5).reshape(()),
              np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2] - 5):  # non-contiguous
        fast = _run(lambda t: F.gelu(t, approximate=approximate), [x], True)
        plain = _run(lambda t: F.gelu(t, approximate=approximate), [x], False)
        _close(fast, plain, np.float32, rtol32=1e-5, atol32=1e-5)
        assert fast[0].shape == x.shape and fast[1].shape == x.shape
    special = np.array([np.nan, np.inf, -np.inf], np.float32)
    with np.errstate(invalid="ignore"):
        fast = _run(lambda t: F.gelu(t, approximate=approximate), [special], True)
        plain = _run(lambda t: F.gelu(t, approximate=approximate), [special], False)
    np.testing.assert_array_equal(fast[0], plain[0])  # nan, inf, nan (-inf * 0) on both paths


def test_gelu_without_grad_saves_nothing():
    x = trainkit.tensor(np.ones((4, 5), np.float32))
    assert np.allclose(F.gelu(x).numpy(), 0.5 * (1 + math.erf(1 / math.sqrt(2))))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck_both_paths(approximate, kernels_on):
    x = trainkit.tensor(np.random.default_rng(2).standard_normal((3, 5)) * 2, requires_grad=True)
    assert gradcheck(lambda t: F.gelu(t, approximate=approximate), x)


@pytest.mark.torch
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_matches_torch(torch, approximate, dtype, kernels_on):
    x = (np.random.default_rng(3).standard_normal((64, 300)) * 4).astype(dtype)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    ours = _run(lambda t: F.gelu(t, approximate=approximate), [x], kernels_on, grad_seed=4)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    ty.backward(torch.from_numpy(g))
    # float32: torch rounds intermediates of size ~|x|^3 (|x| up to 16 here) in float32
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours[0], ty.detach().numpy(), **tol)
    np.testing.assert_allclose(ours[1], tx.grad.numpy(), **tol)


# ---------------------------------------------------------------------------- layer norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["affine", "no_bias", "plain", "two_dims", "big", "noncontig"])
def test_layer_norm_kernel_matches_numpy_path(case, dtype):
    rng = np.random.default_rng(5)
    shape, norm = {"two_dims": ((3, 4, 5, 6), (5, 6)), "big": ((70, 40, 64), (64,))}.get(case, ((5, 7, 12), (12,)))
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    if case == "noncontig":
        x = np.swapaxes(x, 0, 1)
    w = (1 + 0.1 * rng.standard_normal(norm)).astype(dtype)
    b = (0.1 * rng.standard_normal(norm)).astype(dtype)
    if case == "plain":
        fn, arrays = (lambda t: F.layer_norm(t, norm)), [x]
    elif case == "no_bias":
        fn, arrays = (lambda t, w: F.layer_norm(t, norm, w)), [x, w]
    else:
        fn, arrays = (lambda t, w, b: F.layer_norm(t, norm, w, b)), [x, w, b]
    fast, plain = _run(fn, arrays, True), _run(fn, arrays, False)
    for a in fast:
        assert a.dtype == dtype
    if dtype == np.float32:  # float64 sums: compare with the float64 path, and with float32's loosely
        _close(fast, _run(fn, [a.astype(np.float64) for a in arrays], False), dtype, rtol32=1e-5, atol32=1e-5)
        _close(fast, plain, dtype, rtol32=1e-4, atol32=2e-4)
    else:
        _close(fast, plain, dtype)


def test_layer_norm_kernel_constant_rows_and_empty():
    x = np.ones((4, 8), np.float32)
    fast, plain = _run(lambda t: F.layer_norm(t, (8,)), [x], True), _run(lambda t: F.layer_norm(t, (8,)), [x], False)
    _close(fast, plain, np.float32)
    empty = np.zeros((0, 8), np.float32)
    fast = _run(lambda t: F.layer_norm(t, (8,)), [empty], True)
    assert fast[0].shape == (0, 8) and fast[1].shape == (0, 8)


def test_layer_norm_weight_grad_does_not_depend_on_threads():
    import numba

    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((300, 512)).astype(np.float32), np.ones(512, np.float32), np.zeros(512, np.float32)
    fn = lambda t, w, b: F.layer_norm(t, (512,), w, b)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(fn, [x, w, b], True)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = _run(fn, [x, w, b], True)
    finally:
        numba.set_num_threads(old)
    for a, c in zip(one, many):
        np.testing.assert_array_equal(a, c)


def test_layer_norm_gradcheck_both_paths(kernels_on):
    rng = np.random.default_rng(7)
    x = trainkit.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = trainkit.tensor(1 + 0.2 * rng.standard_normal((2, 4)), requires_grad=True)
    b = trainkit.tensor(0.2 * rng.standard_normal((2, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), x, w, b)


@pytest.mark.torch
def test_layer_norm_matches_torch(torch, kernels_on):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 9, 33)).astype(np.float32)
    w, b = (1 + 0.1 * rng.standard_normal(33)).astype(np.float32), rng.standard_normal(33).astype(np.float32)
    ours = _run(lambda x, w, b: F.layer_norm(x, (33,), w, b), [x, w, b], kernels_on)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    out = torch.nn.functional.layer_norm(tx, (33,), tw, tb)
    out.backward(torch.from_numpy(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)))
    for a, t in zip(ours, [out.detach(), tx.grad, tw.grad, tb.grad]):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- embedding gradient


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=3), dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True, sparse=True)])
def test_embedding_kernel_matches_np_add_at(kwargs, dtype):
    rng = np.random.default_rng(9)
    weight = rng.standard_normal((20, 6)).astype(dtype)
    idx = rng.integers(0, 20, (7, 9))
    idx[0, :4] = 3  # repeats and padding
    idx = idx[:, ::2]  # non-contiguous indices
    results = []
    for enabled in (True, False):
        old = _cpu_kernels.ENABLED
        _cpu_kernels.ENABLED = enabled
        try:
            w = trainkit.nn.Parameter(trainkit.tensor(weight))
            out = F.embedding(trainkit.tensor(idx), w, **kwargs)
            out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(dtype))
            results.append((out.numpy(), w.grad, getattr(w, "grad_indices", None)))
        finally:
            _cpu_kernels.ENABLED = old
    (o1, g1, i1), (o2, g2, i2) = results
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(g1, g2)  # rows added in the same order as np.add.at: same bits
    if i1 is not None or i2 is not None:
        np.testing.assert_array_equal(i1, i2)


def test_embedding_kernel_empty_indices():
    w = trainkit.nn.Parameter(trainkit.tensor(np.ones((5, 3), np.float32)))
    out = F.embedding(trainkit.tensor(np.zeros((0,), np.int64)), w)
    out.backward(np.zeros((0, 3), np.float32))
    np.testing.assert_array_equal(w.grad, np.zeros((5, 3), np.float32))


# ---------------------------------------------------------------------------- cross-entropy

CE_CASES = {
    "mean": {}, "sum": dict(reduction="sum"), "none": dict(reduction="none"),
    "ignore": dict(ignore_index=2), "smooth": dict(label_smoothing=0.2),
    "weight": dict(weight="w"), "weight_smooth_ignore": dict(weight="w", label_smoothing=0.1, ignore_index=1),
    "weight_none": dict(weight="w", reduction="none", ignore_index=4),
}


def _ce(x, t, kwargs, enabled, dtype, grad=None):
    kwargs = dict(kwargs)
    if kwargs.get("weight") == "w":
        kwargs["weight"] = trainkit.tensor(np.linspace(0.5, 2.0, x.shape[1]).astype(dtype))
    old = _cpu_kernels.ENABLED
    _cpu_kernels.ENABLED = enabled
    try:
        xt = trainkit.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, trainkit.tensor(t), **kwargs)
        loss.backward(grad if grad is not None else (
            np.random.default_rng(2).standard_normal(loss.shape).astype(dtype) if loss.ndim else None))
        return loss.numpy(), xt.grad
    finally:
        _cpu_kernels.ENABLED = old


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CE_CASES))
def test_cross_entropy_kernel_matches_numpy_path(case, dtype):
    rng = np.random.default_rng(10)
    x = (rng.standard_normal((37, 11)) * 4).astype(dtype)
    t = rng.integers(0, 11, 37)
    t[:5] = [2, 2, 1, 4, 0]
    fast, plain = _ce(x, t, CE_CASES[case], True, dtype), _ce(x, t, CE_CASES[case], False, dtype)
    _close(fast, plain, dtype, rtol32=1e-5, atol32=1e-6)


@pytest.mark.parametrize("layout", ["nd", "noncontig", "one_row", "all_ignored", "extreme", "scaled_grad"])
def test_cross_entropy_kernel_edge_cases(layout):
    rng = np.random.default_rng(11)
    dtype, kwargs, grad = np.float32, {}, None
    x = rng.standard_normal((4, 6, 3, 2)).astype(dtype)
    t = rng.integers(0, 6, (4, 3, 2))
    if layout == "noncontig":
        x, t = rng.standard_normal((9, 40)).astype(dtype)[::2, ::3], rng.integers(0, 14, 5)
    elif layout == "one_row":
        x, t = rng.standard_normal(7).astype(dtype), np.int64(3)
    elif layout == "all_ignored":
        x, t = rng.standard_normal((3, 5)).astype(dtype), np.full(3, -100)
    elif layout == "extreme":
        x, t = np.array([[1e4, -1e4, 0.0], [-1e30, 5.0, 5.0]], dtype), np.array([1, 0])
    elif layout == "scaled_grad":
        x, t, grad = rng.standard_normal((6, 5)).astype(dtype), rng.integers(0, 5, 6), np.float32(2.5)
    with np.errstate(invalid="ignore"):
        fast, plain = _ce(x, t, kwargs, True, dtype, grad), _ce(x, t, kwargs, False, dtype, grad)
    np.testing.assert_allclose(fast[0], plain[0], rtol=1e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(fast[1], plain[1], rtol=1e-5, atol=1e-6)
    assert fast[1].shape == x.shape and fast[0].dtype == dtype


def test_cross_entropy_kernel_twice_with_retain_graph():
    x = trainkit.tensor(np.random.default_rng(12).standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, trainkit.tensor(np.array([0, 1, 2, 3, 0])))
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)


@pytest.mark.parametrize("case", ["mean", "smooth", "weight_smooth_ignore", "none"])
def test_cross_entropy_gradcheck_both_paths(case, kernels_on):
    rng = np.random.default_rng(13)
    x = trainkit.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    t = trainkit.tensor(np.array([0, 1, 4, 1, 3, 2]))
    kwargs = dict(CE_CASES[case])
    if kwargs.get("weight") == "w":
        kwargs["weight"] = trainkit.tensor(np.linspace(0.5, 2.0, 5))
    assert gradcheck(lambda x: F.cross_entropy(x, t, **kwargs), x)


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(CE_CASES))
def test_cross_entropy_matches_torch(torch, case, kernels_on):
    rng = np.random.default_rng(14)
    x = (rng.standard_normal((64, 300)) * 3).astype(np.float32)
    t = rng.integers(0, 300, 64)
    t[:3] = [2, 1, 4]
    kwargs = CE_CASES[case]
    ours = _ce(x, t, kwargs, kernels_on, np.float32)
    tkw = dict(kwargs)
    if tkw.get("weight") == "w":
        tkw["weight"] = torch.from_numpy(np.linspace(0.5, 2.0, 300).astype(np.float32))
    tx = torch.from_numpy(x).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(tx, torch.from_numpy(t), **tkw)
    g = np.random.default_rng(2).standard_normal(loss.shape).astype(np.float32) if loss.ndim else None
    loss.backward(None if g is None else torch.from_numpy(g))
    np.testing.assert_allclose(ours[0], loss.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], tx.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_small_arrays_stay_on_numpy_without_importing_numba():
    """Below KERNEL_MIN_ELEMENTS the fused kernels are not used, so a small model never imports numba."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, trainkit\n"
            "from trainkit import nn\n"
            "from trainkit.nn import functional as F\n"
            "x = trainkit.tensor(np.random.rand(32, 8).astype(np.float32), requires_grad=True)\n"
            "h = F.gelu(F.layer_norm(x, (8,)))\n"
            "e = nn.Embedding(10, 8)(trainkit.tensor(np.arange(4)))\n"
            "loss = F.cross_entropy(h[:, :3], trainkit.tensor(np.zeros(32, dtype=np.int64))) + e.sum()\n"
            "loss.backward()\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"], out.stderr


def test_layer_norm_output_dtype_does_not_depend_on_size():
    """A float64 weight on float32 input promotes as numpy does, on the fused path's sizes too."""
    rng = np.random.default_rng(9)
    w, b = rng.standard_normal(256), rng.standard_normal(256)
    for rows in (4, 100):  # 1,024 and 25,600 elements: either side of the fused kernels' minimum size
        x = rng.standard_normal((rows, 256)).astype(np.float32)
        y = F.layer_norm(trainkit.tensor(x), (256,), trainkit.tensor(w), trainkit.tensor(b))
        assert y.dtype == np.float64
