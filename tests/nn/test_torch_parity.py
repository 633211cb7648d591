"""Every layer and loss against PyTorch: recorded fixtures always, live torch when importable.

The fixture (``tests/fixtures/nn/nn_reference.npz``, written by
``make_nn_fixtures.py``) holds, per case, torch's weights, inputs, output,
gradients and post-forward state in float64. The trainkit module is built from
the same spec (class name and arguments are identical in both libraries), the
weights are loaded as plain arrays, and everything is compared.
"""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

import trainkit
from trainkit import nn

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn")
REFERENCE = np.load(os.path.join(FIXTURES, "nn_reference.npz"), allow_pickle=False)
CASES = sorted({key.split("/")[0] for key in REFERENCE.files})


def _case(name):
    prefix = f"{name}/"
    spec = json.loads(str(REFERENCE[prefix + "spec"]))
    sub = {k[len(prefix):]: REFERENCE[k] for k in REFERENCE.files if k.startswith(prefix)}
    pick = lambda tag: {k[len(tag):]: v for k, v in sub.items() if k.startswith(tag)}  # noqa: E731
    return spec, sub, pick


def _resolve(value, arrays, to_tensor):
    if isinstance(value, str) and value.startswith("@"):
        return to_tensor(arrays[value[1:]])
    if isinstance(value, list):
        return tuple(_resolve(v, arrays, to_tensor) for v in value)
    return value


def run_trainkit(spec, arrays, inputs, params, device):
    def to_t(a):
        return trainkit.tensor(np.asarray(a), device=device)

    cls = getattr(nn, spec["cls"])
    module = cls(*[_resolve(a, arrays, to_t) for a in spec["args"]],
                 **{k: _resolve(v, arrays, to_t) for k, v in spec["kwargs"].items()})
    module.double().to(device)
    module.load_state_dict(params)
    module.train(spec["mode"] == "train")
    tins = {}
    for key in spec["inputs"]:
        t = to_t(inputs[key])
        if key in spec["grad_inputs"]:
            t.requires_grad_(True)
        tins[key] = t
    out = module(*[tins[k] for k in spec["inputs"]])
    return module, tins, out


def _np(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _assert_close(actual, expected, what, atol=1e-10, rtol=1e-8):
    actual = _np(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch's {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("name", CASES)
def test_matches_recorded_torch(name, device):
    spec, sub, pick = _case(name)
    module, tins, out = run_trainkit(spec, pick("array/"), pick("in/"), pick("param/"), device)
    _assert_close(out.data, sub["out"], f"{name}: forward output")
    out.backward(trainkit.tensor(sub["upstream"], device=device))
    for key, g in pick("grad/in/").items():
        _assert_close(tins[key].grad, g, f"{name}: gradient of input {key!r}")
    for key, g in pick("grad/param/").items():
        p = dict(module.named_parameters())[key]
        _assert_close(p.grad, g, f"{name}: gradient of parameter {key!r}")
    state = module.state_dict()
    expected_state = pick("state/")
    assert list(state) == list(expected_state), f"{name}: state_dict keys differ from torch's"
    for key, v in expected_state.items():
        _assert_close(state[key], v, f"{name}: state {key!r} after forward")


@pytest.mark.torch
@pytest.mark.parametrize("name", CASES)
def test_matches_live_torch(name, torch):
    """Re-run torch now (same inputs and weights): guards against a stale fixture and checks fresh init names."""
    spec_path = os.path.join(FIXTURES, "make_nn_fixtures.py")
    loader = importlib.util.spec_from_file_location("make_nn_fixtures", spec_path)
    maker = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(maker)
    spec, sub, pick = _case(name)
    live = maker.run_torch(spec, pick("array/"), pick("in/"), pick("param/"))
    module, tins, out = run_trainkit(spec, pick("array/"), pick("in/"), pick("param/"), "cpu")
    _assert_close(out.data, live["out"], f"{name}: forward output vs live torch")
    out.backward(trainkit.tensor(live["upstream"]))
    for key, g in live["grad_in"].items():
        _assert_close(tins[key].grad, g, f"{name}: gradient of input {key!r} vs live torch")
    for key, g in live["grad_param"].items():
        _assert_close(dict(module.named_parameters())[key].grad, g, f"{name}: gradient of {key!r} vs live torch")
