"""Every misuse the issue lists raises an error whose message names the culprit."""
from __future__ import annotations

import re

import numpy as np
import pytest

import trainkit.optim as optim
from trainkit.autograd import Tensor
from trainkit.nn import Parameter
from trainkit.optim import LBFGS, SGD, Adam, Muon, StateDictError


def params(n=3):
    return [Parameter(np.ones(i + 2)) for i in range(n)]


def test_empty_parameter_list():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)


def test_all_frozen_is_accepted_as_in_torch_with_a_warning_saying_how_many():
    """torch accepts an all-frozen list (layers may be unfrozen later); trainkit warns, with the count.

    (An empty list left after filtering frozen parameters out is the error above: the
    optimizer cannot know how many were filtered.)
    """
    ps = params(4)
    for p in ps:
        p.requires_grad = False
    with pytest.warns(UserWarning, match=r"got 4 parameters and all of them are frozen") as record:
        opt = SGD(ps, lr=0.1, momentum=0.9)
    assert record[0].filename == __file__  # points at the caller
    for p in ps:
        p.grad = np.ones(p.shape)
    opt.step()
    assert all((p.data == 1).all() for p in ps) and len(opt.state) == 0
    ps[0].requires_grad = True  # unfrozen later: now it trains
    opt.step()
    np.testing.assert_allclose(ps[0].data, 0.9)


def test_parameter_in_two_groups_names_it_and_both_groups():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    with pytest.raises(ValueError, match=r"'fc.weight'.*param group 0.*param group 1"):
        SGD([{"params": [("fc.weight", a)]}, {"params": [("fc.bias", b), ("fc.weight", a)]}], lr=0.1)
    with pytest.raises(ValueError, match=r"params\[1\].*shape \(2,\).*param group 0.*param group 1"):
        SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)


def test_parameter_twice_in_one_group_is_an_error():
    a, b = params(2)
    with pytest.raises(ValueError, match=r"same parameter twice.*params\[0\] and params\[2\]"):
        SGD([a, b, a], lr=0.1)
    with pytest.raises(ValueError, match=r"'w'"):
        SGD([("w", a), ("w2", a)], lr=0.1)


def test_set_instead_of_list():
    with pytest.raises(TypeError, match="Please use a list instead"):
        SGD(set(params()), lr=0.1)
    with pytest.raises(TypeError, match="param group 0.*use a list"):
        SGD([{"params": set(params())}], lr=0.1)


def test_not_a_parameter():
    with pytest.raises(TypeError, match=r"params\[1\] of param group 0 is a numpy.ndarray"):
        SGD([Parameter(np.ones(2)), np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match=r"'x'.*wrap trainable arrays in trainkit.nn.Parameter"):
        SGD([("x", Tensor(np.ones(2)))], lr=0.1)
    with pytest.raises(TypeError, match="single Parameter"):
        SGD(Parameter(np.ones(2)), lr=0.1)


def test_mixed_names():
    with pytest.raises(ValueError, match="with/without names"):
        SGD([("a", Parameter(np.ones(2))), Parameter(np.ones(2))], lr=0.1)


@pytest.mark.parametrize("cls,kwargs,message", [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(lr=0.1, momentum=-1), "Invalid momentum value: -1"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("Adam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("AdamW", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adamax", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("ASGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("RAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("RMSprop", dict(alpha=-1), "Invalid alpha value: -1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("SparseAdam", dict(lr=-1), "Invalid learning rate: -1"),
    ("LBFGS", dict(lr=-1), "Invalid learning rate: -1"),
    ("LBFGS", dict(line_search_fn="armijo"), "'armijo'"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", dict(eps=(-1, 1e-3)), "epsilon1 should be >= 0 but is: -1"),
    ("Muon", dict(momentum=-1), "momentum should be >= 0 but is: -1"),
    ("Muon", dict(adjust_lr_fn="bogus"), "Adjust learning rate function bogus is not supported"),
])
def test_invalid_hyperparameters_use_torch_wording(cls, kwargs, message):
    ps = [Parameter(np.ones((2, 2)))]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(optim, cls)(ps, **kwargs)


def test_invalid_group_override_is_checked_too():
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):
        SGD([{"params": params(1)}, {"params": params(1), "lr": -0.5}], lr=0.1)


def test_lbfgs_one_group_only():
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options.*2 param groups"):
        LBFGS([{"params": params(1)}, {"params": params(1)}])


def test_lbfgs_needs_closure():
    opt = LBFGS(params(1))
    with pytest.raises(TypeError, match="requires a closure"):
        opt.step()


def test_muon_2d_only_names_parameter():
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters.*'bias'"):
        Muon([("weight", Parameter(np.ones((2, 2)))), ("bias", Parameter(np.ones(2)))])


def test_seed_positional_mistake_filtered_params_then_groups():
    """optim.SGD(filter(...), [groups], lr=..., momentum=0.9): the seeds' four-day bug."""
    ps = params(4)
    ps[0].requires_grad = False
    groups = [{"params": ps[1:2], "lr": 1e-4}, {"params": ps[2:]}]
    with pytest.raises(TypeError, match=r"second positional argument, which is `lr`.*Pass ONE `params`"):
        SGD(filter(lambda p: p.requires_grad, ps), groups, lr=0.01, momentum=0.9, weight_decay=5e-4)
    with pytest.raises(TypeError, match="second positional argument, which is `lr`"):
        SGD(filter(lambda p: p.requires_grad, ps), groups, momentum=0.9)
    with pytest.raises(TypeError, match="second positional argument"):
        Adam(ps[1:], lr=[{"params": ps[1:]}])


def test_lr_of_wrong_type():
    with pytest.raises(TypeError, match="lr must be a float.*got str"):
        SGD(params(1), lr="0.1")
    with pytest.raises(TypeError, match="lr must be a float.*got ndarray"):
        SGD(params(1), lr=np.array([0.1, 0.2]))


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adafactor", "SparseAdam", "LBFGS", "Muon"])
@pytest.mark.parametrize("make_lr", [np.array, np.float32, np.float64], ids=["0d", "f32", "f64"])
def test_numpy_scalar_and_0d_array_lr_are_valid(name, make_lr):
    """``lr=np.array(0.1)`` is a value, not the positional param-groups mistake."""
    def run(lr, positional):
        p = Parameter(np.ones((2, 2)))
        cls = getattr(optim, name)
        opt = cls([p], lr) if positional else cls([p], lr=lr)

        def closure():
            p.grad = np.full((2, 2), 0.5) + p.data
            return float((p.data ** 2).sum())

        closure()
        opt.step(closure)
        return p.data

    for positional in (False, True):
        # float32 scalars make the per-step scalar arithmetic float32 (in torch as well)
        rtol = 1e-6 if make_lr is np.float32 else 0
        np.testing.assert_allclose(run(make_lr(0.25), positional), run(0.25, positional), rtol=rtol, atol=0)


def test_differentiable_and_fused_foreach():
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        Adam(params(1), differentiable=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        Adam(params(1), fused=True, foreach=True)


def test_load_state_dict_mismatches_list_everything_and_change_nothing():
    a = [("l1.w", Parameter(np.ones((2, 3)))), ("l1.b", Parameter(np.ones(2)))]
    opt = Adam(a, lr=0.1)
    for _, p in a:
        p.grad = np.ones(p.shape)
    opt.step()
    sd = opt.state_dict()
    other = Adam([("l1.w", Parameter(np.ones((3, 3)))), ("l2.b", Parameter(np.ones(2)))], lr=0.5)
    with pytest.raises(StateDictError, match=r"(?s)names differ: 'l2.b' != 'l1.b'"):
        other.load_state_dict(sd)
    sd_same_names = opt.state_dict()
    other2 = Adam([("l1.w", Parameter(np.ones((3, 3)))), ("l1.b", Parameter(np.ones(2)))], lr=0.5)
    with pytest.raises(StateDictError, match=r"'exp_avg' of 'l1.w' \(shape \(3, 3\)\) has shape \(2, 3\)"):
        other2.load_state_dict(sd_same_names)
    assert other2.param_groups[0]["lr"] == 0.5 and len(other2.state) == 0
    with pytest.raises(StateDictError, match="2 parameter groups but the optimizer has 1"):
        other2.load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(StateDictError, match="has 1 parameters but the loaded one has 2"):
        Adam([Parameter(np.ones(2))]).load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})
    with pytest.raises(StateDictError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"param_groups": []})


def test_gradient_shape_mismatch_is_named():
    p = Parameter(np.ones(3))
    opt = SGD([p], lr=0.1)
    p.grad = np.ones(4)
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) for a parameter of shape \(3,\): params\[0\]"):
        opt.step()
    w, b = Parameter(np.ones((2, 3))), Parameter(np.ones(2))
    named = Adam([("enc.w", w), ("enc.b", b)])
    w.grad, b.grad = np.ones((2, 3)), np.ones(4)
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) for a parameter of shape \(2,\): 'enc.b'"):
        named.step()


@pytest.mark.parametrize("cls,kwargs,entry,missing", [
    ("Adam", {}, {"step": 1.0, "exp_avg": np.zeros((2, 3))}, "['exp_avg_sq']"),
    ("Adam", {"amsgrad": True}, {"step": 1.0, "exp_avg": np.zeros((2, 3)), "exp_avg_sq": np.zeros((2, 3))},
     "['max_exp_avg_sq']"),
    ("RMSprop", {"momentum": 0.9}, {"step": 1.0, "square_avg": np.zeros((2, 3))}, "['momentum_buffer']"),
    ("Adafactor", {}, {"row_var": np.zeros((2, 1)), "col_var": np.zeros((1, 3))}, "['step']"),
    ("Muon", {}, {}, "['momentum_buffer']"),
    ("SparseAdam", {}, {"step": 1, "exp_avg": np.zeros((2, 3))}, "['exp_avg_sq']"),
])
def test_load_state_dict_missing_state_keys_are_listed_by_name(cls, kwargs, entry, missing):
    w, b = Parameter(np.ones((2, 3))), Parameter(np.ones((2, 3)))
    opt = getattr(optim, cls)([("enc.w", w), ("enc.b", b)], **kwargs)
    sd = opt.state_dict()
    sd["state"] = {0: dict(entry, unrelated=1.0)}
    with pytest.raises(StateDictError, match=r"'enc.w' \(shape \(2, 3\)\) is missing " + re.escape(missing)):
        opt.load_state_dict(sd)
    assert len(opt.state) == 0


def test_load_state_dict_requires_keys_of_the_loaded_settings():
    """amsgrad switched on in the loaded groups: max_exp_avg_sq must be there too."""
    opt = Adam([("w", Parameter(np.ones(2)))])
    opt.param_groups[0]["params"][0].grad = np.ones(2)
    opt.step()
    sd = opt.state_dict()
    sd["param_groups"][0]["amsgrad"] = True
    with pytest.raises(StateDictError, match=r"'w' \(shape \(2,\)\) is missing \['max_exp_avg_sq'\]"):
        Adam([("w", Parameter(np.ones(2)))]).load_state_dict(sd)


def test_sgd_state_without_momentum_buffer_loads_as_torch():
    """torch's SGD keeps no buffer with momentum=0; loading it into momentum=0.9 starts from the gradient."""
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.load_state_dict({"state": {0: {}}, "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    p.grad = np.full(2, 2.0)
    opt.step()
    np.testing.assert_allclose(p.data, 1 - 0.1 * 2.0)


def test_load_state_dict_restores_hyperparameters_without_the_constructor_checks():
    """As torch: a saved lr the constructor would refuse (-1.0) is loaded, not re-validated."""
    opt = SGD([Parameter(np.ones(2))], lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = -1.0
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == -1.0
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        SGD([Parameter(np.ones(2))], lr=-1.0)  # the constructor still checks


def _chained_cosine_lrs(optim, lr_scheduler, param):
    """SGD under two chained CosineAnnealingLRs for 10 steps: (optimizer, lr after each step)."""
    opt = optim.SGD([param], lr=0.05)
    sched = lr_scheduler.ChainedScheduler([lr_scheduler.CosineAnnealingLR(opt, T_max=2, eta_min=0.001),
                                           lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.05)])
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return opt, lrs


def test_checkpoint_of_a_schedule_that_drove_lr_negative_reloads():
    import trainkit.optim as tk_optim

    opt, lrs = _chained_cosine_lrs(tk_optim, tk_optim.lr_scheduler, Parameter(np.ones(2)))
    assert lrs[-1] < 0  # the case in point: the chained recurrences end below zero
    fresh = SGD([Parameter(np.ones(2))], lr=0.1)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == lrs[-1] == opt.param_groups[0]["lr"]


def test_negative_lr_schedule_and_reload_match_torch(torch):
    import trainkit.optim as tk_optim

    _, lrs = _chained_cosine_lrs(tk_optim, tk_optim.lr_scheduler, Parameter(np.ones(2)))
    topt, tlrs = _chained_cosine_lrs(torch.optim, torch.optim.lr_scheduler, torch.nn.Parameter(torch.ones(2)))
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12, atol=1e-15)
    tfresh = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    tfresh.load_state_dict(topt.state_dict())  # torch loads it as well
    assert tfresh.param_groups[0]["lr"] == tlrs[-1]
