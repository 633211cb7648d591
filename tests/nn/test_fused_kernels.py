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
from trainkit.nn import functional as F
from trainkit.nn.functional import _cpu_kernels, _erf, _fast_math

pytest.importorskip("numba")


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


def test_numpy_erf_is_float64_exact():
    u = np.concatenate([np.linspace(-7, 7, 200_001), [1e-300, -1e-20, 5e-10, 0.999999, 1.0, 5.999, 6.0, 30.0]])
    ref = np.array([math.erf(v) for v in u])
    got = _erf.erf(u)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) < 1e-15
    special = _erf.erf(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0]))
    assert np.isnan(special[0]) and list(special[1:3]) == [1.0, -1.0]
    assert np.signbit(special[4]) and not np.signbit(special[3])
    assert _erf.erf(np.float32([0.5])).dtype == np.float32


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
    fn = lambda t: F.gelu(t, approximate=approximate)  # noqa: E731
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
