"""Forward values and gradients of every op case agree with PyTorch.

Two layers: the recorded reference (``fixtures/op_reference.npz``, written by
``make_op_reference.py``) runs without torch and on every device; the live
comparison runs when torch is importable, in float64 and float32.
"""
from __future__ import annotations

import pathlib

import numpy as np
import pytest
from autograd_op_cases import CASE_IDS, CASES, run_torch, run_trainkit

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "op_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_reference_covers_every_case(reference):
    missing = [c.name for c in CASES if f"{c.name}__out" not in reference]
    assert not missing, f"regenerate with tests/autograd/make_op_reference.py; missing {missing}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_recorded_torch(case, device, reference):
    n = len(case.inputs)
    if f"{case.name}__out" not in reference:
        pytest.fail(f"case {case.name} has no recorded reference; run make_op_reference.py")
    inputs = [reference[f"{case.name}__in{i}"] for i in range(n)]
    out, grads, _ = run_trainkit(case, inputs, device=device)
    np.testing.assert_allclose(out, reference[f"{case.name}__out"], rtol=1e-10, atol=1e-12)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(
            g, reference[f"{case.name}__grad{i}"], rtol=1e-9, atol=1e-12, err_msg=f"grad of input {i}"
        )


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_live_torch_float64(case, torch):
    inputs = case.make_inputs()
    out, grads, _ = run_trainkit(case, inputs)
    t_out, t_grads, _ = run_torch(torch, case, inputs)
    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12, err_msg=f"grad of input {i}")


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_live_torch_float32(case, torch):
    inputs = case.make_inputs()
    out, grads, _ = run_trainkit(case, inputs, dtype=np.float32)
    t_out, t_grads, _ = run_torch(torch, case, inputs, dtype=np.float32)
    assert out.dtype == np.float32, "float32 inputs must give a float32 output"
    np.testing.assert_allclose(out, t_out, rtol=2e-5, atol=2e-5)
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        assert g.dtype == np.float32, f"grad of input {i} is {g.dtype}"
        np.testing.assert_allclose(g, tg, rtol=2e-4, atol=2e-5, err_msg=f"grad of input {i}")
