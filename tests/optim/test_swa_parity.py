"""torch.optim.swa_utils parity: AveragedModel (every averaging function, use_buffers) and SWALR.

Against the committed torch 2.13 fixtures (tests/fixtures/swa/make_swa_fixtures.py; no torch
needed) and, when torch is importable, against torch live. torch's CPU ``lerp`` fuses its
multiply-add and trainkit rounds twice, so the lerp-based averages (EMA, ``get_swa_multi_avg_fn``)
agree to round-off; the default CPU average (a division) and the integer buffers agree bitwise.
"""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

import trainkit as tk
from trainkit.optim import swa_utils as S

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "swa")
_spec = importlib.util.spec_from_file_location("make_swa_fixtures", os.path.join(FIXTURES, "make_swa_fixtures.py"))
GEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(GEN)
with np.load(os.path.join(FIXTURES, "reference.npz"), allow_pickle=False) as _data:
    REFERENCE = {k: _data[k] for k in _data.files}
with open(os.path.join(FIXTURES, "swalr.json"), encoding="utf-8") as _fh:
    SWALR_REFERENCE = json.load(_fh)["cases"]

TOLERANCE = {"float32": dict(rtol=1e-6, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-14)}
EXACT = {"default", "default_buffers", "swa_avg"}  # division-based: same operations as torch's CPU kernels


def tk_model(dtype: str):
    model = tk.nn.Sequential(tk.nn.Linear(5, 7), tk.nn.BatchNorm1d(7), tk.nn.ReLU(), tk.nn.Linear(7, 3))
    return model.double() if dtype == "float64" else model


def tk_averaged(model, case: str):
    averaging, decay, use_buffers = GEN.CASES[case]
    fns = {"default": {}, "ema_multi": {"multi_avg_fn": lambda: S.get_ema_multi_avg_fn(decay)},
           "swa_multi": {"multi_avg_fn": S.get_swa_multi_avg_fn}, "ema_avg": {"avg_fn": lambda: S.get_ema_avg_fn(decay)},
           "swa_avg": {"avg_fn": S.get_swa_avg_fn}}[averaging]
    return S.AveragedModel(model, use_buffers=use_buffers, **{k: f() for k, f in fns.items()})


def tk_run(case: str, dtype: str, device: str = "cpu") -> list[dict]:
    model = tk_model(dtype).to(device)
    averaged = tk_averaged(model, case)
    out = []
    for state in GEN.model_states(dtype):
        model.load_state_dict(state)
        averaged.update_parameters(model)
        out.append({k: tk.backend.to_device(v, "cpu").copy() for k, v in averaged.state_dict().items()})
    return out


def check(case: str, dtype: str, got: list[dict], want, exact: bool) -> None:
    for step, state in enumerate(got):
        keys = [k for k in want if k.startswith(f"{case}/{dtype}/{step}/")]
        assert [k.split("/", 3)[3] for k in keys] == list(state), "state dict keys/order differ from torch's"
        for key in keys:
            name = key.split("/", 3)[3]
            value, expected = state[name], want[key]
            assert value.dtype == expected.dtype, name
            if exact or value.dtype.kind != "f":
                np.testing.assert_array_equal(value, expected, err_msg=f"{case} step {step} {name}")
            else:
                np.testing.assert_allclose(value, expected, err_msg=f"{case} step {step} {name}", **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", GEN.DTYPES)
@pytest.mark.parametrize("case", sorted(GEN.CASES))
def test_averaged_model_matches_fixture(case, dtype, device):
    got = tk_run(case, dtype, device)
    check(case, dtype, got, REFERENCE, exact=case in EXACT and device == "cpu")
    assert int(got[-1]["n_averaged"]) == GEN.STEPS + 1


@pytest.mark.torch
@pytest.mark.parametrize("dtype", GEN.DTYPES)
@pytest.mark.parametrize("case", sorted(GEN.CASES))
def test_averaged_model_matches_torch_live(case, dtype, torch):
    live = {}
    for step, state in enumerate(GEN._torch_run(torch, case, dtype)):
        live.update({f"{case}/{dtype}/{step}/{k}": v for k, v in state.items()})
    check(case, dtype, tk_run(case, dtype), live, exact=case in EXACT)


def test_fixture_averages_move():
    """Guard against vacuous fixtures: the average differs from the last model state and from the first."""
    states = GEN.model_states("float64")
    last = REFERENCE[f"ema_multi_0.9/float64/{GEN.STEPS}/module.0.weight"]
    assert not np.allclose(last, states[-1]["0.weight"]) and not np.allclose(last, states[0]["0.weight"])
    mean = np.mean([s["0.weight"] for s in states], axis=0)
    np.testing.assert_allclose(REFERENCE[f"default/float64/{GEN.STEPS}/module.0.weight"], mean, rtol=1e-12)


def tk_swalr(case: str) -> list[list[float]]:
    return GEN.swalr_sequence(tk, S.SWALR, case)


@pytest.mark.parametrize("case", sorted(GEN.SWALR_CASES))
def test_swalr_matches_fixture(case):
    assert tk_swalr(case) == SWALR_REFERENCE[case]  # the same float64 operations: equal, not close


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(GEN.SWALR_CASES))
def test_swalr_matches_torch_live(case, torch):
    assert tk_swalr(case) == GEN.swalr_sequence(torch, torch.optim.swa_utils.SWALR, case)


@pytest.mark.torch
def test_explicit_swa_multi_on_integer_buffers_is_refused_like_torch(torch):
    model = tk_model("float32")
    averaged = S.AveragedModel(model, multi_avg_fn=S.get_swa_multi_avg_fn(), use_buffers=True)
    averaged.update_parameters(model)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        averaged.update_parameters(model)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(7))
    tavg = torch.optim.swa_utils.AveragedModel(tmodel, multi_avg_fn=torch.optim.swa_utils.get_swa_multi_avg_fn(),
                                               use_buffers=True)
    tavg.update_parameters(tmodel)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        tavg.update_parameters(tmodel)
