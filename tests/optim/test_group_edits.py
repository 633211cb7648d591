"""Editing ``param_groups[i]["params"]`` by hand: append, pop, replace (as torch allows).

State is kept by position, so a hand edit must be noticed and the group laid
out again, with state following each parameter by identity: new parameters
start fresh, removed ones drop their state, the others keep theirs.
"""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import SGD, Adafactor, Adam, Muon, SparseAdam


def _adam_reference(grads, lr=0.1, betas=(0.9, 0.999), eps=1e-8):
    """torch's Adam update, by hand, for a parameter starting at 1 with the given gradients."""
    p, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate(grads, 1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        step_size = lr / (1 - betas[0] ** t)
        p = p - step_size * m / (np.sqrt(v) / np.sqrt(1 - betas[1] ** t) + eps)
    return p


def _run(lib, edit):
    """Three Adam steps on two parameters, a hand edit, then one more step; returns parameters/state."""
    if lib == "torch":
        import torch

        make = lambda n: torch.nn.Parameter(torch.ones(n, dtype=torch.float64))  # noqa: E731
        grad = lambda n, g: torch.full((n,), float(g), dtype=torch.float64)  # noqa: E731
        opt_cls = torch.optim.Adam
    else:
        make = lambda n: Parameter(np.ones(n))  # noqa: E731
        grad = lambda n, g: np.full(n, float(g))  # noqa: E731
        opt_cls = Adam
    a, b = make(3), make(2)
    opt = opt_cls([a, b], lr=0.1)
    for g in (1.0, -1.0, 1.0):
        a.grad, b.grad = grad(3, 1.0), grad(2, g)
        opt.step()
    new = make(2)
    params = opt.param_groups[0]["params"]
    if edit == "append":
        params.append(new)
    elif edit == "pop":
        params.pop(0)
    elif edit == "replace":
        params[1] = new
    for p in params:
        p.grad = grad(p.shape[0], 0.5)
    opt.step()
    return {
        "a": np.asarray(a.data), "b": np.asarray(b.data), "new": np.asarray(new.data),
        "steps": [float(opt.state[p]["step"]) for p in params],
    }


@pytest.mark.parametrize("edit", ["append", "pop", "replace"])
def test_hand_edit_follows_each_parameter(edit):
    got = _run("trainkit", edit)
    a_grads, b_grads = [1.0, 1.0, 1.0, 0.5], [1.0, -1.0, 1.0, 0.5]
    if edit == "append":
        assert got["steps"] == [4.0, 4.0, 1.0]
        np.testing.assert_allclose(got["a"], _adam_reference(a_grads), rtol=1e-12)
        np.testing.assert_allclose(got["b"], _adam_reference(b_grads), rtol=1e-12)
        np.testing.assert_allclose(got["new"], _adam_reference([0.5]), rtol=1e-12)
    elif edit == "pop":
        assert got["steps"] == [4.0]
        np.testing.assert_allclose(got["a"], _adam_reference(a_grads[:3]), rtol=1e-12)  # no longer updated
        np.testing.assert_allclose(got["b"], _adam_reference(b_grads), rtol=1e-12)
    else:
        assert got["steps"] == [4.0, 1.0]
        np.testing.assert_allclose(got["a"], _adam_reference(a_grads), rtol=1e-12)
        np.testing.assert_allclose(got["b"], _adam_reference(b_grads[:3]), rtol=1e-12)
        np.testing.assert_allclose(got["new"], _adam_reference([0.5]), rtol=1e-12)


@pytest.mark.parametrize("edit", ["append", "pop", "replace"])
def test_hand_edit_matches_torch(torch, edit):
    got, want = _run("trainkit", edit), _run("torch", edit)
    assert got["steps"] == want["steps"]
    for key in ("a", "b", "new"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=0)


def test_removed_parameter_drops_its_state_and_state_dict_follows():
    a, b, c = (Parameter(np.ones(2)) for _ in range(3))
    opt = SGD([("a", a), ("b", b)], lr=0.1, momentum=0.9)
    a.grad, b.grad = np.ones(2), np.full(2, 2.0)
    opt.step()
    group = opt.param_groups[0]
    group["params"][0] = c
    group["param_names"][0] = "c"
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["c", "b"]
    assert sorted(sd["state"]) == [1]  # c has no state yet, a's is gone
    np.testing.assert_array_equal(sd["state"][1]["momentum_buffer"], 2.0)
    assert a not in opt.state and len(opt.state) == 1


def test_appended_parameter_of_another_dtype_and_state_lookup_before_step():
    a = Parameter(np.ones(2))
    opt = Adam([a], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    q = Parameter(np.ones(3, np.float32))
    opt.param_groups[0]["params"].append(q)
    assert opt.state[q] == {} and opt.state[a]["step"] == 1.0
    q.grad = np.ones(3, np.float32)
    a.grad = np.ones(2)
    opt.step()
    assert opt.state[q]["step"] == 1.0 and opt.state[q]["exp_avg"].dtype == np.float32
    assert opt.state[a]["step"] == 2.0


def test_replacing_a_whole_group_dict_and_param_groups_list():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    a.grad, b.grad = np.ones(2), np.ones(2)
    opt.step()
    opt.param_groups[1] = {"params": [b], "lr": 0.2}  # a new dict: defaults are filled in
    assert opt.state[b]["momentum_buffer"] is not None
    b.grad = np.ones(2)
    before = b.data.copy()
    opt.step()
    assert opt.param_groups[1]["momentum"] == 0.9
    np.testing.assert_allclose(b.data, before - 0.2 * (0.9 * 1.0 + 1.0))  # the buffer survived
    del opt.param_groups[0]
    a.grad = b.grad = np.ones(2)
    opt.step()
    assert a not in opt.state and opt.state[b]["momentum_buffer"] is not None


@pytest.mark.parametrize("cls", [Adafactor, Muon, SparseAdam])
def test_array_code_optimizers_follow_hand_edits_too(cls):
    a, b = Parameter(np.ones((2, 3))), Parameter(np.ones((3, 2)))
    opt = cls([a, b])
    a.grad, b.grad = np.ones((2, 3)), np.ones((3, 2))
    opt.step()
    kept = {k: np.array(v) for k, v in opt.state[b].items()}
    opt.param_groups[0]["params"].pop(0)
    b.grad = np.ones((3, 2))
    assert set(opt.state[b]) == set(kept)
    for key, value in kept.items():
        np.testing.assert_array_equal(opt.state[b][key], value)
    opt.step()
    assert a not in opt.state


def test_invalid_hand_edits_are_named():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    opt.param_groups[0]["params"].append(np.ones(2))
    with pytest.raises(TypeError, match=r"param_groups\[0\] was edited by hand.*params\[1\].*numpy.ndarray"):
        opt.step()
    opt.param_groups[0]["params"][1] = b
    message = r"edited by hand: a parameter of shape \(2,\) is in param group 0 \(as params\[1\]\) and in param group 1"
    with pytest.raises(ValueError, match=message):
        opt.step()
    opt.param_groups[0]["params"].pop()
    opt.step()  # fine again
    named = SGD([("w", a)], lr=0.1)
    named.param_groups[0]["params"].append(b)
    with pytest.raises(ValueError, match=r"'param_names' has 1 entries for 2 params"):
        named.state_dict()
