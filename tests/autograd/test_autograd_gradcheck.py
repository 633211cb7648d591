"""Every op in ``autograd_op_cases.CASES`` passes the float64 finite-difference gradient check."""
from __future__ import annotations

import numpy as np
import pytest
from autograd_op_cases import CASE_IDS, CASES

import trainkit
from trainkit.autograd.gradcheck import gradcheck


def _inputs(case, device):
    return [
        trainkit.tensor(a, dtype=np.float64, device=device, requires_grad=True)
        for a in case.make_inputs()
    ]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_op_gradcheck(case, device):
    inputs = _inputs(case, device)
    assert gradcheck(lambda *xs: case.fn(trainkit, *xs), *inputs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_op_output_stays_on_device_and_float64(case, device):
    out = case.fn(trainkit, *_inputs(case, device))
    assert out.dtype == np.float64
    assert out.device == trainkit.device(device)
    assert out.requires_grad


def test_gradcheck_catches_a_wrong_gradient():
    """The checker itself can fail: a Function with a deliberately wrong backward."""
    from trainkit.autograd import Function

    class WrongSquare(Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, g):
            return g * self.a  # should be 2 * a

    x = trainkit.tensor([0.5, -1.5, 2.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_rejects_float32():
    x = trainkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * t, x)


def test_gradcheck_handles_non_contiguous_inputs():
    base = np.arange(12.0).reshape(3, 4) / 7.0
    x = trainkit.from_numpy(base.T)  # a transposed (strided) view
    x.requires_grad_()
    assert gradcheck(lambda t: (t * t).sum(dim=0), x)


def test_gradcheck_rejects_read_only_inputs():
    x = trainkit.from_numpy(np.broadcast_to(np.ones(3), (2, 3)))
    x.requires_grad_()
    with pytest.raises(ValueError, match="read-only"):
        gradcheck(lambda t: t * 2.0, x)
