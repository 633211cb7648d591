"""AveragedModel's flat buffers and fused passes, update_bn, and the argument checks (torch's)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import trainkit as tk
from trainkit.optim import swa_utils as S


def mlp(seed=0, bn=False):
    tk.manual_seed(seed)
    layers = [tk.nn.Linear(6, 16)] + ([tk.nn.BatchNorm1d(16)] if bn else []) + [tk.nn.ReLU(), tk.nn.Linear(16, 3)]
    return tk.nn.Sequential(*layers)


def train_steps(model, opt, steps, seed=1, device="cpu"):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = tk.tensor(rng.standard_normal((8, 6)).astype(np.float32), device=device)
        y = tk.tensor(rng.integers(0, 3, 8), device=device)
        opt.zero_grad()
        tk.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def test_model_under_an_optimizer_is_averaged_in_one_fused_run(device):
    model = mlp().to(device)
    opt = tk.optim.SGD(model.parameters(), lr=0.1)
    train_steps(model, opt, 1, device=device)  # the optimizer lays the parameters out in its flat buffer
    ema = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.9))
    ema.update_parameters(model)
    reference = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.9))
    reference.update_parameters(model)
    for step in range(5):
        train_steps(model, opt, 1, seed=10 + step, device=device)
        ema.update_parameters(model)
        # the per-tensor call of the same function (torch's multi_avg_fn interface) gives the same numbers
        reference.multi_avg_fn(list(reference.module.parameters()), list(model.parameters()), reference.n_averaged)
    (flat,) = ema._flat.values()
    assert len(flat._runs) == 1, "the model's parameters form one contiguous run"
    for (name, a), b in zip(ema.module.named_parameters(), reference.module.parameters()):
        np.testing.assert_allclose(tk.backend.to_device(a.data, "cpu"), tk.backend.to_device(b.data, "cpu"),
                                   rtol=0, atol=1e-7 if device == "cuda" else 0, err_msg=name)


@pytest.mark.numba
def test_fused_numba_pass_equals_plain_numpy(monkeypatch):
    pytest.importorskip("numba")
    results = {}
    for backend in ("numpy", "numba"):
        monkeypatch.setenv("TRAINKIT_OPTIM_BACKEND", backend)
        model = mlp()
        opt = tk.optim.Adam(model.parameters(), lr=0.01)
        ema = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.7))
        swa = S.AveragedModel(model)
        for step in range(6):
            train_steps(model, opt, 1, seed=step)
            ema.update_parameters(model)
            swa.update_parameters(model)
        runs = [run for runners in list(ema._flat.values())[0]._runners.values() for run in runners]
        assert {run.backend for run in runs} == {backend}
        results[backend] = [p.data.copy() for p in list(ema.parameters()) + list(swa.parameters())]
    for a, b in zip(results["numpy"], results["numba"]):
        np.testing.assert_array_equal(a, b)


def test_replaced_arrays_are_followed():
    """A model whose arrays are replaced (``.to()``, a reassigned ``.data``) is still averaged correctly."""
    model = mlp()
    swa = S.AveragedModel(model)
    swa.update_parameters(model)
    first = [p.data.copy() for p in model.parameters()]
    for p in model.parameters():
        p.data = p.data + 1.0  # new arrays
    swa.update_parameters(model)
    swa.module[0].weight.data = swa.module[0].weight.data.copy()  # detached from the flat buffer
    for p in model.parameters():
        p.data = p.data + 1.0
    swa.update_parameters(model)
    for p, f in zip(swa.parameters(), first):
        np.testing.assert_allclose(p.data, f + 1.0, rtol=1e-6)


def test_state_dict_round_trip_and_deepcopy_are_independent():
    model = mlp(bn=True)
    ema = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.5), use_buffers=True)
    for _ in range(3):
        for p in model.parameters():
            p.data[...] = p.data * 0.5 + 0.1
        ema.update_parameters(model)
    state = {k: v.copy() for k, v in ema.state_dict().items()}
    assert list(state)[0] == "n_averaged" and int(state["n_averaged"]) == 3
    clone = copy.deepcopy(ema)
    other = S.AveragedModel(mlp(seed=5, bn=True), multi_avg_fn=S.get_ema_multi_avg_fn(0.5), use_buffers=True)
    other.load_state_dict(state)
    for _ in range(2):
        for target in (ema, clone, other):
            target.update_parameters(model)
    before = {k: v.copy() for k, v in ema.state_dict().items()}
    clone.update_parameters(model)  # must not write into ema's buffers
    for k, v in ema.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_argument_checks_are_torchs():
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        S.AveragedModel(mlp(), avg_fn=S.get_swa_avg_fn(), multi_avg_fn=S.get_swa_multi_avg_fn())
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="Invalid decay value"):
            S.get_ema_multi_avg_fn(bad)
        with pytest.raises(ValueError, match="Invalid decay value"):
            S.get_ema_avg_fn(bad)
    opt = tk.optim.SGD(mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.SWALR(opt, 0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs"):
        S.SWALR(opt, 0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="same length"):
        S.SWALR(opt, [0.01, 0.02])


def test_swalr_state_dict_round_trip():
    opt = tk.optim.SGD(mlp().parameters(), lr=0.1)
    sched = S.SWALR(opt, 0.01, anneal_epochs=4, anneal_strategy="linear")
    sched.step()
    state = sched.state_dict()
    assert state["anneal_epochs"] == 4 and state["_anneal_strategy"] == "linear"
    opt2 = tk.optim.SGD(mlp().parameters(), lr=0.1)
    sched2 = S.SWALR(opt2, 0.01)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(5):
        sched.step()
        sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
    assert opt.param_groups[0]["lr"] == 0.01


@pytest.mark.torch
def test_update_bn_matches_torch(torch):
    model = mlp(bn=True)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 3))
    tmodel.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((10, 6)).astype(np.float32), np.zeros(10, np.int64)) for _ in range(4)]
    model.eval()
    tmodel.eval()
    S.update_bn([(tk.tensor(x), tk.tensor(y)) for x, y in batches], model)
    torch.optim.swa_utils.update_bn([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches], tmodel)
    assert not model.training and model[1].momentum == 0.1
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(np.asarray(v), tmodel.state_dict()[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(model[1].num_batches_tracked.data) == 4
    plain = mlp()
    S.update_bn([np.ones((2, 6), np.float32)], plain)  # no BatchNorm: nothing to do, no error
