"""``optimizer.state`` behaves like torch's: writable, deletable, O(1) lookups."""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import SGD, Adafactor, Adam, StateDictError


def _stepped(cls=Adam, n=1, steps=1, **kwargs):
    ps = [Parameter(np.ones(3)) for _ in range(n)]
    opt = cls(ps, **({"lr": 0.1} | kwargs))
    for _ in range(steps):
        for p in ps:
            p.grad = np.ones(3)
        opt.step()
    return ps, opt


def _adam_step_size(step, lr=0.1, betas=(0.9, 0.999)):
    return lr / (1 - betas[0] ** step), np.sqrt(1 - betas[1] ** step)


def test_setting_step_writes_through():
    (p,), opt = _stepped()
    opt.state[p]["step"] = 100
    assert opt.state[p]["step"] == 100.0
    m, v = opt.state[p]["exp_avg"].copy(), opt.state[p]["exp_avg_sq"].copy()
    before = p.data.copy()
    p.grad = np.ones(3)
    opt.step()
    m = 0.9 * m + 0.1
    v = 0.999 * v + 0.001
    step_size, bc2_sqrt = _adam_step_size(101)
    np.testing.assert_allclose(p.data, before - step_size * m / (np.sqrt(v) / bc2_sqrt + 1e-8), rtol=1e-12)
    assert opt.state[p]["step"] == 101.0


def test_step_write_of_one_parameter_leaves_the_others():
    ps, opt = _stepped(n=3, steps=2)  # the three share their scalar state internally
    opt.state[ps[1]]["step"] = 10
    assert [opt.state[p]["step"] for p in ps] == [2.0, 10.0, 2.0]
    for p in ps:
        p.grad = np.ones(3)
    opt.step()
    assert [opt.state[p]["step"] for p in ps] == [3.0, 11.0, 3.0]


def test_assigning_an_array_writes_into_the_state():
    (p,), opt = _stepped(SGD, momentum=0.9)
    opt.state[p]["momentum_buffer"] = np.full(3, 5.0)
    p.grad = np.zeros(3)
    before = p.data.copy()
    opt.step()
    np.testing.assert_allclose(p.data, before - 0.1 * 0.9 * 5.0)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of params\[0\].*shape \(3,\), got \(4,\)"):
        opt.state[p]["momentum_buffer"] = np.ones(4)


@pytest.mark.parametrize("reset", ["del", "assign_empty", "clear_param", "clear_all", "assign_state"])
def test_resetting_state_starts_fresh(reset):
    ps, opt = _stepped(n=2, steps=3)
    p = ps[0]
    if reset == "del":
        del opt.state[p]
    elif reset == "assign_empty":
        opt.state[p] = {}
    elif reset == "clear_param":
        opt.state[p].clear()
    elif reset == "clear_all":
        opt.state.clear()
    else:
        opt.state = defaultdict(dict)
    assert p not in opt.state and opt.state[p] == {}
    assert len(opt.state) == (1 if reset in ("del", "assign_empty", "clear_param") else 0)
    before = p.data.copy()
    for q in ps:
        q.grad = np.ones(3)
    opt.step()
    # a fresh Adam step moves by lr * sign(grad) (up to eps)
    np.testing.assert_allclose(p.data, before - 0.1, rtol=1e-7)
    assert opt.state[p]["step"] == 1.0


def test_del_of_parameter_without_state_is_a_key_error():
    p, q = Parameter(np.ones(3)), Parameter(np.ones(3))
    opt = Adam([p])
    with pytest.raises(KeyError, match="has no optimizer state"):
        del opt.state[p]
    with pytest.raises(KeyError, match="not managed by this optimizer"):
        opt.state[q]
    assert q not in opt.state


def test_assigning_complete_state_is_validated_like_load_state_dict():
    (p,), opt = _stepped(steps=2)
    (q,), other = _stepped(steps=5)
    opt.state[p] = other.state[q]
    assert opt.state[p]["step"] == 5.0
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], other.state[q]["exp_avg"])
    with pytest.raises(StateDictError, match=r"params\[0\].*missing \['exp_avg_sq'\]"):
        opt.state[p] = {"step": 1.0, "exp_avg": np.zeros(3)}
    assert opt.state[p]["step"] == 5.0


def test_deleting_a_needed_key_is_refused_but_sgd_momentum_buffer_may_go():
    (p,), opt = _stepped()
    with pytest.raises(ValueError, match=r"cannot delete state 'exp_avg'.*Adam needs it"):
        del opt.state[p]["exp_avg"]
    (p,), sgd = _stepped(SGD, momentum=0.9, dampening=0.5, steps=2)
    del sgd.state[p]["momentum_buffer"]
    assert sgd.state[p]["momentum_buffer"] is None
    before = p.data.copy()
    p.grad = np.full(3, 2.0)
    sgd.step()
    np.testing.assert_allclose(p.data, before - 0.1 * 2.0)  # torch: a missing buffer restarts at grad


def test_state_entries_are_dicts_and_copies_are_plain():
    (p,), opt = _stepped(Adafactor)
    st = opt.state[p]
    assert isinstance(st, dict)
    clone = copy.deepcopy(st)
    assert type(clone) is dict and clone.keys() == st.keys()
    st["step"] = 7.0
    assert opt.state[p]["step"] == 7.0


def test_lookups_are_constant_time(monkeypatch):
    """Each lookup is one dict probe: once the index exists, looking up 2,000 parameters rebuilds
    nothing (the old behaviour scanned every group per lookup). Time itself is measured in
    benchmarks/, not asserted here."""
    from trainkit.optim.groups import GroupLayout

    ps, opt = _stepped(n=2000, steps=1)
    opt.state[ps[0]]
    rebuilds = []
    original = GroupLayout.sync
    monkeypatch.setattr(GroupLayout, "sync", lambda self: rebuilds.append(1) or original(self))
    for p in ps:
        opt.state[p]
        assert p in opt.state
    assert rebuilds == []
