"""clip_grad_norm_ / clip_grad_value_ / get_total_norm against torch (recorded and live)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

REF = Path(__file__).resolve().parents[1] / "fixtures" / "clipping" / "clip_reference.npz"
NORM_TYPES = {"1": 1.0, "2": 2.0, "3.5": 3.5, "0.5": 0.5, "inf": math.inf}
CASES = [(d, n, m) for d in ("float16", "float32", "float64") for n in NORM_TYPES for m in ("small", "large")]
# float16 on numpy: bit-identical (norms accumulated in float32, one rounding per op, as torch);
# cupy's reductions may round the float32 accumulation differently: one float16 ulp.
TOL = {"float16": dict(rtol=0, atol=0), "float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-12, atol=1e-14)}
GPU_TOL = {**TOL, "float16": dict(rtol=2e-3, atol=0)}


@pytest.fixture(scope="module")
def ref():
    with np.load(REF, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _params(grads, xp=np):
    ps = []
    for g in grads:
        p = Parameter(xp.zeros(g.shape, dtype=g.dtype))
        p.grad = xp.asarray(g.copy())
        ps.append(p)
    return ps


@pytest.mark.parametrize("dtype,norm,size", CASES)
def test_clip_grad_norm_matches_recorded_torch(dtype, norm, size, ref, xp):
    case = f"{dtype}/{norm}/{size}"
    grads = [ref[f"{case}/in{k}"] for k in range(3)]
    params = _params(grads, xp)
    aliases = [p.grad_array for p in params]
    total = clip_grad_norm_(params, 1.0 if size == "small" else 1e6, norm_type=NORM_TYPES[norm])
    assert total.dtype == np.dtype(dtype)
    tol = (TOL if xp is np else GPU_TOL)[dtype]
    np.testing.assert_allclose(float(total.item()), float(ref[f"{case}/total"]), **tol)
    for k, p in enumerate(params):
        assert p.grad_array is aliases[k], "clipping must be in place (optimizer buffers alias .grad)"
        got = p.grad_array if xp is np else p.grad_array.get()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, ref[f"{case}/out{k}"], **tol)
    if size == "small" and math.isfinite(float(total.item())):  # it really clipped: the new total is max_norm
        # (float16 p=0.5 overflows to inf, as in torch: the gradients are zeroed)
        after = get_total_norm([p.grad for p in params], NORM_TYPES[norm])
        assert float(after.item()) == pytest.approx(1.0, rel=1e-5 if dtype != "float16" else 2e-3)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_clip_grad_value_matches_recorded_torch(dtype, ref):
    grads = [ref[f"{dtype}/value/in{k}"] for k in range(3)]
    params = _params(grads)
    clip_grad_value_(params, 0.7)
    for k, p in enumerate(params):
        np.testing.assert_array_equal(p.grad, ref[f"{dtype}/value/out{k}"])
    assert max(np.abs(p.grad).max() for p in params) == pytest.approx(0.7)


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [1, 2, 3.5, 0.5, math.inf, "inf"])
def test_clip_grad_norm_live_torch(norm_type, torch):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s).astype(np.float64) for s in [(4, 3), (6,), (2, 2, 2)]]
    params = _params(grads)
    tparams = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.from_numpy(g.copy())
    want = torch.nn.utils.clip_grad_norm_(tparams, 0.5, norm_type=float(norm_type))
    got = clip_grad_norm_(params, 0.5, norm_type=norm_type)
    assert float(got.item()) == pytest.approx(float(want), rel=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize(
    "dtypes", [("float16",), ("float16", "float16"), ("float16", "float32"), ("float32", "float64")]
)
@pytest.mark.parametrize("norm_type", [1, 2, 3.5, math.inf])
def test_clip_grad_norm_live_torch_low_precision_and_mixed(dtypes, norm_type, torch):
    """float16 norms accumulate in float32 and come back in float16; mixed dtypes promote; torch's rounding."""
    rng = np.random.default_rng(7)
    grads = [(rng.standard_normal(n) * 4).astype(d) for n, d in zip((1500, 333), dtypes)]
    params = _params(grads)
    tparams = [torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, g.dtype.name))) for g in grads]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.from_numpy(g.copy())
    want = torch.nn.utils.clip_grad_norm_(tparams, 0.25, norm_type=float(norm_type))
    got = clip_grad_norm_(params, 0.25, norm_type=norm_type)
    assert got.dtype.name == str(want.dtype).removeprefix("torch.")
    exact = all(d == "float16" for d in dtypes)  # same float32 accumulation; wider dtypes sum in another order
    tol = dict(rtol=0, atol=0) if exact else dict(rtol=2e-6, atol=0)
    np.testing.assert_allclose(float(got.item()), float(want), **tol)
    for p, tp in zip(params, tparams):
        assert p.grad.dtype == tp.grad.numpy().dtype
        np.testing.assert_allclose(p.grad.astype(np.float64), tp.grad.numpy().astype(np.float64),
                                   rtol=tol["rtol"] or 0, atol=0 if exact else 1e-3)


@pytest.mark.parametrize("norm_type", [2.0, 3.0, 1.0])
def test_huge_gradients_give_inf_without_overflow_warnings(norm_type):
    """torch returns inf for a norm past the dtype's range; numpy must not warn on every step."""
    p = Parameter(np.zeros(10, np.float32))
    p.grad = np.full(10, 1e38, np.float32)
    total = clip_grad_norm_([p], 1.0, norm_type=norm_type)  # filterwarnings=error turns a warning into a failure
    assert math.isinf(float(total.item()))
    np.testing.assert_array_equal(p.grad, np.zeros(10, np.float32))  # 1e38 * (1 / inf) == 0, as in torch
    q = Parameter(np.zeros(3, np.float16))
    q.grad = np.full(3, 60000.0, np.float16)  # float16 norm overflows the dtype when cast back
    assert math.isinf(float(get_total_norm([q.grad], 2.0).item()))


def test_parameters_without_grad_are_skipped_and_empty_is_zero():
    a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(2, np.float32))
    a.grad = np.full(3, 4.0, np.float32)
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert float(total.item()) == pytest.approx(math.sqrt(48), rel=1e-6)
    assert b.grad is None
    assert float(clip_grad_norm_([b], 1.0).item()) == 0.0


def test_error_if_nonfinite_message():
    p = Parameter(np.zeros(2, np.float32))
    p.grad = np.array([np.nan, 1.0], np.float32)
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* is non-finite.*error_if_nonfinite=False"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert np.isnan(p.grad[0]) and p.grad[1] == 1.0  # unchanged after the error
    # without the flag torch scales by the NaN norm anyway
    total = clip_grad_norm_([p], 1.0)
    assert math.isnan(float(total.item())) and np.isnan(p.grad).all()


def test_empty_generator_warns_like_torch():
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def test_bad_norm_type_is_named():
    p = Parameter(np.zeros(2, np.float32))
    p.grad = np.ones(2, np.float32)
    with pytest.raises(ValueError, match="norm_type must be a number.*'fro'"):
        clip_grad_norm_([p], 1.0, norm_type="fro")


def test_parameters_vector_round_trip():
    ps = [Parameter(np.arange(6, dtype=np.float32).reshape(2, 3)), Parameter(np.array([7.0, 8.0], np.float32))]
    vec = parameters_to_vector(ps)
    np.testing.assert_array_equal(vec.data, [0, 1, 2, 3, 4, 5, 7, 8])
    vector_to_parameters(vec.data * 2, ps)
    np.testing.assert_array_equal(ps[0].data, [[0, 2, 4], [6, 8, 10]])
    with pytest.raises(ValueError, match="vec has 3 elements, the parameters need 8"):
        vector_to_parameters(np.zeros(3, np.float32), ps)


# --------------------------------------------------------------------------- large gradients: numba's threads
@pytest.mark.parametrize("dtype,norm,size", [c for c in CASES if c[0] != "float16" and c[1] == "2"])
def test_fused_norm_and_scaling_match_recorded_torch(dtype, norm, size, ref, monkeypatch):
    """With every gradient large enough (the threshold set to 0), the numba kernels give torch's numbers."""
    pytest.importorskip("numba")
    from trainkit.backend import numba_available

    if not numba_available():
        pytest.skip("numba is switched off")
    from trainkit.nn import _clip_kernels

    monkeypatch.setenv("TRAINKIT_OPTIM_PARALLEL_MIN", "0")
    calls = []
    kernels = _clip_kernels.kernels()
    monkeypatch.setattr(_clip_kernels, "kernels", lambda: calls.append(1) or kernels)
    case = f"{dtype}/{norm}/{size}"
    grads = [ref[f"{case}/in{k}"] for k in range(3)]
    params = _params(grads)
    total = clip_grad_norm_(params, 1.0 if size == "small" else 1e6)
    assert calls, "the kernels did not run"
    np.testing.assert_allclose(float(total.item()), float(ref[f"{case}/total"]), **TOL[dtype])
    for k, p in enumerate(params):
        np.testing.assert_allclose(p.grad_array, ref[f"{case}/out{k}"], **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_kernels_serial_and_parallel_agree_bit_for_bit(dtype):
    """Which variant runs is chosen by measured time, so both must give the same bits; the norm's
    partial sums follow fixed blocks, not the threads."""
    pytest.importorskip("numba")
    from trainkit.nn import _clip_kernels

    kernels = _clip_kernels.kernels()
    if kernels is None:
        pytest.skip("numba is switched off")
    x = (np.random.default_rng(3).standard_normal(3 * _clip_kernels.BLOCK + 77) * 3).astype(dtype)
    sumsq, scale = kernels["adaptive"]
    partials = np.empty(-(-x.size // _clip_kernels.BLOCK))
    sums = []
    for variant in sumsq.kernels:
        out = np.empty(1)
        variant(x, x.dtype.type(0), partials, out)
        sums.append(out[0])
    assert sums[0] == sums[1]
    exact = float(np.sum(x.astype(np.float64) ** 2))
    assert sums[0] == pytest.approx(exact, rel=1e-6 if dtype == np.float32 else 1e-13)
    c = dtype(0.37)
    scaled = []
    for variant in scale.kernels:
        y = x.copy()
        variant(y, c)
        scaled.append(y)
    np.testing.assert_array_equal(scaled[0], x * c)
    np.testing.assert_array_equal(scaled[1], x * c)


def test_small_gradients_never_import_numba(tree_env):
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from trainkit.nn import Parameter\n"
        "from trainkit.nn.utils import clip_grad_norm_\n"
        "ps = [Parameter(np.zeros((64, 64), np.float32)) for _ in range(3)]\n"
        "for p in ps: p.grad = np.ones((64, 64), np.float32)\n"
        "clip_grad_norm_(ps, 1.0)\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=tree_env, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
