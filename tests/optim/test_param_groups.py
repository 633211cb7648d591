"""The seeds' param-group recipes, frozen layers, manual lr decay and state_dict resume.

Where torch is importable the same recipe also runs in torch and the results are
compared; otherwise each test checks the arithmetic it is about directly.
"""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import SGD, Adam

RNG = np.random.default_rng(7)


class Net:
    """Stand-in for the seeds' ``net.features`` / ``net.classifier`` (named Parameters)."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.features = {"features.0.weight": Parameter(rng.standard_normal((4, 3))),
                         "features.0.bias": Parameter(rng.standard_normal(4))}
        self.classifier = {"classifier.weight": Parameter(rng.standard_normal((2, 4))),
                           "classifier.bias": Parameter(rng.standard_normal(2))}

    def named_parameters(self):
        return list(self.features.items()) + list(self.classifier.items())

    def parameters(self):
        return [p for _, p in self.named_parameters()]


def set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        if p.requires_grad:
            p.grad = rng.standard_normal(p.shape)


def test_features_default_lr_classifier_own_lr():
    net = Net()
    before = [p.data.copy() for p in net.parameters()]
    opt = SGD([{"params": list(net.features.values())},
               {"params": list(net.classifier.values()), "lr": 1e-2}], lr=1e-5)
    assert [g["lr"] for g in opt.param_groups] == [1e-5, 1e-2]
    set_grads(net.parameters(), 1)
    grads = [p.grad.copy() for p in net.parameters()]
    opt.step()
    lrs = [1e-5, 1e-5, 1e-2, 1e-2]
    for p, b, g, lr in zip(net.parameters(), before, grads, lrs):
        np.testing.assert_array_equal(p.data, b - lr * g)


def _three_group_run(make_opt, steps=5):
    net = Net(1)
    ps = net.parameters()
    opt = make_opt(ps)
    for s in range(steps):
        set_grads(ps, 10 + s)
        opt.step()
    return [p.data.copy() for p in ps]


def test_three_groups_momentum_matches_torch_or_hand(torch):
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1], ps[2]], "lr": 0.1 * 0.01},  # noqa: E731
                         {"params": [ps[3]], "weight_decay": 5e-4}]
    got = _three_group_run(lambda ps: SGD(groups(ps), lr=0.1, momentum=0.9))

    def torch_opt(ps):
        tps = [torch.nn.Parameter(torch.tensor(p.data.numpy())) for p in ps]
        return tps, torch.optim.SGD(groups(tps), lr=0.1, momentum=0.9)

    net = Net(1)
    tps, topt = torch_opt(net.parameters())
    for s in range(5):
        rng = np.random.default_rng(10 + s)
        for tp in tps:
            tp.grad = torch.tensor(rng.standard_normal(tuple(tp.shape)))
        topt.step()
    for a, tp in zip(got, tps):
        np.testing.assert_allclose(a, tp.detach().numpy(), rtol=1e-12)


def test_three_groups_by_hand():
    ps = Net(2).parameters()
    opt = SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.001}, {"params": [ps[2], ps[3]], "weight_decay": 0.5}],
              lr=0.1, momentum=0.9)
    x0 = [p.data.copy() for p in ps]
    for p in ps:
        p.grad = np.ones(p.shape)
    opt.step()  # first step: buffer = grad (+ wd * p)
    np.testing.assert_allclose(ps[0].data, x0[0] - 0.1)
    np.testing.assert_allclose(ps[1].data, x0[1] - 0.001)
    np.testing.assert_allclose(ps[2].data, x0[2] - 0.1 * (1 + 0.5 * x0[2]))


def test_frozen_parameters_are_untouched_even_with_weight_decay():
    net = Net(3)
    frozen = net.features["features.0.weight"]
    frozen.requires_grad = False
    frozen_before = frozen.data.copy()
    params = net.parameters()
    opt = SGD([p for p in params if p.requires_grad], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt_all = Adam(params, lr=0.1, weight_decay=0.1)  # frozen one included: still skipped
    for s in range(3):
        set_grads(params, s)
        frozen.grad = np.ones(frozen.shape)  # a stray gradient on a frozen parameter is ignored
        opt.step()
        opt_all.step()
    assert frozen.data.numpy().tobytes() == frozen_before.numpy().tobytes()
    assert opt_all.state[frozen] == {}
    assert frozen not in opt_all.state
    assert len(opt_all.state) == 3


def test_manual_lr_decay_keeps_momentum():
    def run(decay_at):
        ps = Net(4).parameters()
        opt = SGD(ps, lr=0.1, momentum=0.9)
        for s in range(6):
            if s == decay_at:
                buf_before = opt.state[ps[0]]["momentum_buffer"].copy()
                for group in opt.param_groups:
                    group["lr"] *= 0.1
                np.testing.assert_array_equal(opt.state[ps[0]]["momentum_buffer"], buf_before)
            set_grads(ps, 20 + s)
            opt.step()
        return ps, opt

    ps, opt = run(3)
    ps_ref = Net(4).parameters()
    buf = [None] * 4
    for s in range(6):
        set_grads(ps_ref, 20 + s)
        lr = 0.1 if s < 3 else 0.1 * 0.1
        for i, p in enumerate(ps_ref):
            buf[i] = p.grad.copy() if buf[i] is None else 0.9 * buf[i] + p.grad
            p.data = p.data - lr * buf[i]
    for a, b in zip(ps, ps_ref):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def _serialize(sd):
    """Round trip through npz + JSON, the checkpoint format (no pickle)."""
    arrays, counter = {}, [0]

    def pack(v):
        if isinstance(v, np.ndarray):
            key = f"a{counter[0]}"
            counter[0] += 1
            arrays[key] = v
            return {"__array__": key}
        if isinstance(v, dict):
            return {str(k): pack(x) for k, x in v.items()}
        if isinstance(v, list):
            return [pack(x) for x in v]
        return v

    text = json.dumps(pack(sd))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    loaded = np.load(buf, allow_pickle=False)

    def unpack(v):
        if isinstance(v, dict) and "__array__" in v:
            return loaded[v["__array__"]]
        if isinstance(v, dict):
            return {k: unpack(x) for k, x in v.items()}
        if isinstance(v, list):
            return [unpack(x) for x in v]
        return v

    return unpack(json.loads(text))


@pytest.mark.parametrize("cls_name,kwargs", [
    ("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9)), ("ASGD", dict(t0=2)),
    ("NAdam", {}), ("Rprop", {}), ("Adafactor", {}), ("Muon", dict(lr=0.02)), ("SparseAdam", {}),
    ("LBFGS", dict(max_iter=3)), ("RMSprop", dict(centered=True, momentum=0.5)),
])
def test_state_dict_round_trip_mid_trajectory(cls_name, kwargs):
    import trainkit.optim as optim

    from optim_reference import rosenbrock_closure

    def make():
        net = Net(5)
        named = net.named_parameters()
        if cls_name == "Muon":
            named = [(n, p) for n, p in named if p.ndim == 2]
        params = [p for _, p in named]
        return params, getattr(optim, cls_name)(named, **kwargs)

    def advance(params, opt, steps):
        for s in steps:
            if cls_name == "LBFGS":
                opt.step(rosenbrock_closure(params, opt, np))
            else:
                set_grads(params, 100 + s)
                params[-1].grad = None if s == 2 else params[-1].grad
                opt.step()

    params, opt = make()
    advance(params, opt, range(8))
    want = [p.data.copy() for p in params]

    params, opt = make()
    advance(params, opt, range(4))
    sd = _serialize(opt.state_dict())
    data = [p.data.copy() for p in params]
    params2, opt2 = make()
    for p, d in zip(params2, data):
        p.data[...] = d
    opt2.load_state_dict(sd)
    advance(params2, opt2, range(4, 8))
    for a, b in zip(params2, want):
        np.testing.assert_array_equal(a.data, b)
    assert sd["param_groups"][0]["param_names"][0].startswith("features") or cls_name == "Muon"


def test_state_dict_layout_is_torchs():
    net = Net(6)
    opt = Adam([{"params": net.features.items()}, {"params": net.classifier.items(), "lr": 0.1}])
    set_grads(net.parameters(), 0)
    net.parameters()[1].grad = None
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 2, 3]
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][1]["params"] == [2, 3]
    assert sd["param_groups"][1]["param_names"] == ["classifier.weight", "classifier.bias"]
    assert sd["param_groups"][0]["betas"] == [0.9, 0.999]
    st = sd["state"][0]
    assert set(st) == {"step", "exp_avg", "exp_avg_sq"} and st["step"] == 1.0
    assert st["exp_avg"].shape == (4, 3) and st["exp_avg"].dtype == np.float64


def test_load_state_dict_casts_dtype():
    p64 = Parameter(np.ones(3))
    opt = Adam([p64])
    p64.grad = np.ones(3)
    opt.step()
    sd = opt.state_dict()
    p32 = Parameter(np.ones(3, dtype=np.float32))
    opt32 = Adam([p32])
    opt32.load_state_dict(sd)
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    assert isinstance(opt32.param_groups[0]["betas"], tuple)


def test_one_shot_generator_is_read_once():
    net = Net(7)
    opt = SGD((p for p in net.parameters()), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 4


def test_add_param_group_later_fine_tuning():
    net = Net(8)
    opt = SGD(list(net.classifier.values()), lr=0.1, momentum=0.9)
    opt.add_param_group({"params": list(net.features.values()), "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    before = net.features["features.0.bias"].data.copy()
    set_grads(net.parameters(), 3)
    g = net.features["features.0.bias"].grad.copy()
    opt.step()
    np.testing.assert_allclose(net.features["features.0.bias"].data, before - 0.01 * g)
