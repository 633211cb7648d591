"""param_rules plugin: config -> groups + table, and Unfreezer (one group per rule, once; checkpoints)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

import trainkit as tk
from trainkit import nn
from trainkit.builtin_plugins.param_rules import Unfreezer
from trainkit.compose import build_groups
from trainkit.data import DataLoader
from trainkit.data.dataset import TensorDataset
from trainkit.optim import SGD
from trainkit.optim.lr_scheduler import ExponentialLR
from trainkit.params import ParamRuleError
from trainkit.plugins import registry
from trainkit.trainer import Trainer


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        tk.manual_seed(0)
        self.features = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4))
        self.classifier = nn.Linear(4, 1)

    def forward(self, x):
        return self.classifier(self.features(x))


def _config_groups(model, cfg, base_lr, weight_decay=None):
    """``(groups, table, unfreezer or None)`` of a ``params`` mapping, through the one builder."""
    optimizer = None if weight_decay is None else {"name": "sgd", "weight_decay": weight_decay}
    groups, table, plugins = build_groups(cfg, model, base_lr,
                                          optimizer=None if optimizer is None else OmegaConf.create(optimizer))
    return groups, table, (plugins[0] if plugins else None)


def param_groups_from_config(model, cfg, base_lr, weight_decay=None):
    return _config_groups(model, cfg, base_lr, weight_decay)[:2]


class FakeTrainer:
    def __init__(self, model, optimizer, schedulers=()):
        self.model, self.optimizer, self.schedulers = model, optimizer, list(schedulers)


def _setup(unfreeze_rules, **kw):
    model = Net()
    groups, table = param_groups_from_config(model, {"freeze": ["features.*"]}, base_lr=0.1)
    opt = SGD(groups, lr=0.1, momentum=0.9)
    return model, opt, Unfreezer(unfreeze_rules, **kw)


def test_config_groups_and_table():
    model = Net()
    cfg = {"freeze": ["features.0.*"], "param_groups": [{"params": "classifier.*", "lr_mult": 10}],
           "no_decay": True, "unrelated": 1}
    groups, table = param_groups_from_config(model, cfg, base_lr=0.01, weight_decay=1e-4)
    names = [g["name"] for g in groups]
    assert names == ["default", "default/no_decay", "classifier.*", "classifier.*/no_decay"]
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.01, 0.1, 0.1])
    assert "classifier.*/no_decay" in table and "(frozen)" in table


def test_registered_as_callback():
    assert registry("callbacks").get("unfreeze") is Unfreezer


def test_unfreeze_at_epoch_adds_one_group_once():
    model, opt, unf = _setup({"features.*": {"epoch": 2, "lr_mult": 0.1}})
    trainer = FakeTrainer(model, opt)
    assert len(opt.param_groups) == 1
    for epoch in range(2):
        unf.on_epoch_start(trainer=trainer, epoch=epoch)
    assert len(opt.param_groups) == 1 and not model.features[0].weight.requires_grad
    for epoch in range(2, 6):
        unf.on_epoch_start(trainer=trainer, epoch=epoch)
    assert len(opt.param_groups) == 2
    g = opt.param_groups[1]
    assert g["name"] == "unfreeze:features.*"
    assert g["lr"] == pytest.approx(0.01) and g["momentum"] == 0.9
    assert g["param_names"] == ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]
    assert all(p.requires_grad for p in model.parameters())
    assert unf.applied == ["features.*"]


def test_unfreeze_explicit_lr_and_schedulers_follow():
    model, opt, unf = _setup({"features.2.*": {"epoch": 1, "lr": 0.05}, "features.0.*": 3})
    sched = ExponentialLR(opt, gamma=0.5)
    trainer = FakeTrainer(model, opt, [sched])
    unf.on_epoch_start(trainer=trainer, epoch=1)
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.025])
    assert sched.base_lrs == [0.1, 0.05]
    unf.on_epoch_start(trainer=trainer, epoch=3)
    assert [g["lr"] for g in opt.param_groups][2] == pytest.approx(0.1)  # optimizer's default lr


def test_checkpoint_round_trip_is_idempotent():
    model, opt, unf = _setup({"features.*": 1})
    trainer = FakeTrainer(model, opt)
    unf.on_epoch_start(trainer=trainer, epoch=1)
    ckpt = {"plugins": {"unfreeze": unf.state_dict()}}
    assert json.loads(json.dumps(ckpt)) == {"plugins": {"unfreeze": {"applied": ["features.*"]}}}
    # same process: loading again does not add a second group
    unf.load_state_dict(ckpt["plugins"]["unfreeze"])
    unf.on_load_checkpoint(trainer=trainer, checkpoint=ckpt)
    assert len(opt.param_groups) == 2
    # fresh run resumed after the unfreeze epoch: group re-created once, not again at later epochs
    model2, opt2, unf2 = _setup({"features.*": 1})
    trainer2 = FakeTrainer(model2, opt2)
    unf2.load_state_dict(ckpt["plugins"]["unfreeze"])
    unf2.on_load_checkpoint(trainer=trainer2, checkpoint=ckpt)
    assert len(opt2.param_groups) == 2 and all(p.requires_grad for p in model2.parameters())
    unf2.on_epoch_start(trainer=trainer2, epoch=4)
    assert len(opt2.param_groups) == 2


def test_unfreezer_in_a_trainer_run_trains_the_new_group():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    model, opt, unf = _setup({"features.*": 1})
    before = model.features[0].weight.data.copy()
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=4),
                      plugins=[unf], max_epochs=3, default_plugins=False)
    trainer.fit()
    assert [g["name"] for g in opt.param_groups] == ["default", "unfreeze:features.*"]
    assert not np.array_equal(model.features[0].weight.data, before)


@pytest.mark.parametrize(
    "rules,match",
    [
        ({}, "non-empty mapping"),
        ({"features.*": -1}, r"unfreeze\['features.\*'\] epoch must be an int >= 0, got -1"),
        ({"features.*": {"epoch": 1, "lr": 0.1, "lr_mult": 2}}, "sets both lr and lr_mult"),
        ({"features.*": {"epoch": 1, "rate": 0.1}}, r"unknown keys \['rate'\]"),
    ],
)
def test_unfreezer_config_errors(rules, match):
    with pytest.raises(ValueError, match=match):
        Unfreezer(rules)


def test_unfreeze_pattern_matching_nothing_names_closest():
    model, opt, unf = _setup({"featurs.*": 0})
    with pytest.raises(ParamRuleError, match=r"unfreeze rule 'featurs.\*' matches no parameter.*features"):
        unf.on_epoch_start(trainer=FakeTrainer(model, opt), epoch=0)


def test_unfreeze_of_parameters_already_optimized_is_an_error():
    model, opt, unf = _setup({"classifier.*": 0})
    with pytest.raises(ParamRuleError, match="already in the optimizer"):
        unf.on_epoch_start(trainer=FakeTrainer(model, opt), epoch=0)


# --------------------------------------------------------------------------- resume after an unfreeze
def _unfreeze_run(run_dir, max_epochs, resume=None, variant="exponential"):
    """Momentum SGD, ``features.*`` frozen until epoch 2, a checkpoint every epoch.

    ``exponential``: ExponentialLR, one unfrozen group; ``one_cycle_no_decay``:
    OneCycleLR and no_decay, so the rule adds two groups that join the cycle.
    """
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 3)).astype(np.float64)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1).astype(np.float64)
    model = Net().to(dtype=np.float64)
    cfg = {"freeze": ["features.*"], "unfreeze": {"features.*": {"epoch": 2, "lr_mult": 0.5}},
           "no_decay": variant != "exponential"}
    groups, _ = param_groups_from_config(model, cfg, base_lr=0.05, weight_decay=1e-3)
    opt = SGD(groups, lr=0.05, momentum=0.9, weight_decay=1e-3)
    if variant == "exponential":
        sched = ExponentialLR(opt, gamma=0.8)
    else:
        from trainkit.optim.lr_scheduler import OneCycleLR

        sched = OneCycleLR(opt, max_lr=0.05, total_steps=25)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=3)
    ckpt_plugin = registry("callbacks").get("checkpointing")(every_n_epochs=1, keep_last=5, monitor=None)
    trainer = Trainer(model, nn.MSELoss(), opt, loader, scheduler=sched,
                      plugins=[_config_groups(model, cfg, 0.05, 1e-3)[2], ckpt_plugin],
                      max_epochs=max_epochs, run_dir=run_dir, resume=resume, default_plugins=False)
    trainer.fit()
    return trainer


@pytest.mark.parametrize(
    "variant,names",
    [
        ("exponential", ["default", "unfreeze:features.*"]),
        ("one_cycle_no_decay", ["default", "default/no_decay", "unfreeze:features.*", "unfreeze:features.*/no_decay"]),
    ],
)
def test_resume_after_an_unfreeze_continues_bit_identically(tmp_path, variant, names):
    straight = _unfreeze_run(tmp_path / "straight", max_epochs=5, variant=variant)
    first = _unfreeze_run(tmp_path / "split", max_epochs=3, variant=variant)  # unfrozen at 2, checkpoint after 3
    assert len(first.optimizer.param_groups) == len(names)
    resumed = _unfreeze_run(tmp_path / "split", max_epochs=5, resume=tmp_path / "split", variant=variant)
    assert resumed.resumed_from is not None and resumed.epoch == 5
    opt, ref = resumed.optimizer, straight.optimizer
    assert [g["name"] for g in opt.param_groups] == names
    assert resumed.schedulers[0].base_lrs == straight.schedulers[0].base_lrs  # no duplicated entry
    assert resumed.schedulers[0].state_dict() == straight.schedulers[0].state_dict()
    for g, h in zip(opt.param_groups, ref.param_groups):
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in h.items() if k != "params"}
    for (name, p), (_, q) in zip(resumed.model.named_parameters(), straight.model.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    sa, sb = opt.state_dict()["state"], ref.state_dict()["state"]
    assert sorted(sa) == sorted(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k]["momentum_buffer"], sb[k]["momentum_buffer"], err_msg=str(k))


def test_resume_without_the_unfreeze_rule_names_the_groups(tmp_path):
    _unfreeze_run(tmp_path, max_epochs=3)
    model = Net().to(dtype=np.float64)
    groups, _ = param_groups_from_config(model, {"freeze": ["features.*"]}, base_lr=0.05)
    opt = SGD(groups, lr=0.05, momentum=0.9)
    x = np.zeros((4, 3))
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1])), max_epochs=4,
                      resume=tmp_path, default_plugins=False)
    with pytest.raises(ValueError, match=r"saved param groups \['default', 'unfreeze:features\.\*'\], "
                                         r"this run has \['default'\].*unfreeze"):
        trainer.fit()


# --------------------------------------------------------------------------- unfrozen groups follow the rules
class NormNet(nn.Module):
    def __init__(self):
        super().__init__()
        tk.manual_seed(0)
        self.features = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        self.classifier = nn.Linear(4, 1)

    def forward(self, x):
        return self.classifier(self.features(x))


FINETUNE = {"freeze": ["features.*"], "unfreeze": {"features.*": {"epoch": 1, "lr_mult": 0.1}},
            "param_groups": [{"params": "classifier.*", "lr_mult": 10}], "no_decay": True}


def test_unfrozen_groups_get_no_decay_like_the_initial_ones():
    model = NormNet()
    groups, table = param_groups_from_config(model, FINETUNE, base_lr=0.01, weight_decay=0.05)
    assert "unfreeze:features.* (epoch 1)" in table and "unfreeze:features.*/no_decay (epoch 1)" in table
    opt = SGD(groups, lr=0.01, weight_decay=0.05)
    unf = _config_groups(NormNet(), FINETUNE, 0.01, 0.05)[2]
    unf.on_epoch_start(trainer=FakeTrainer(model, opt), epoch=1)
    by = {g["name"]: g for g in opt.param_groups}
    assert list(by) == ["classifier.*", "classifier.*/no_decay", "unfreeze:features.*", "unfreeze:features.*/no_decay"]
    assert by["unfreeze:features.*"]["param_names"] == ["features.0.weight"]
    assert by["unfreeze:features.*"]["weight_decay"] == 0.05
    assert by["unfreeze:features.*/no_decay"]["param_names"] == ["features.0.bias", "features.1.weight",
                                                                   "features.1.bias"]
    assert by["unfreeze:features.*/no_decay"]["weight_decay"] == 0.0
    assert by["unfreeze:features.*"]["lr"] == pytest.approx(0.001)
    # the "added once" property holds for the split groups too
    unf.on_epoch_start(trainer=FakeTrainer(model, opt), epoch=2)
    unf.on_load_checkpoint(trainer=FakeTrainer(model, opt), checkpoint={"plugins": {"unfreeze": unf.state_dict()}})
    assert len(opt.param_groups) == 4


def test_unfrozen_parameters_take_their_param_groups_rule():
    cfg = {"freeze": ["features.*"], "unfreeze": {"features.*": 1},
           "param_groups": [{"params": "features.*", "lr": 1e-4, "weight_decay": 0.0}]}
    model = NormNet()
    groups, table = param_groups_from_config(model, cfg, base_lr=0.01, weight_decay=0.05)
    assert [g["name"] for g in groups] == ["default"]
    assert "unfreeze:features.* (epoch 1)" in table
    opt = SGD(groups, lr=0.01, weight_decay=0.05)
    _config_groups(NormNet(), cfg, 0.01, 0.05)[2].on_epoch_start(
        trainer=FakeTrainer(model, opt), epoch=1)
    new = opt.param_groups[1]
    assert (new["name"], new["lr"], new["weight_decay"]) == ("unfreeze:features.*", 1e-4, 0.0)


def test_unfreezer_checks_its_rules_when_the_fit_starts():
    """A wrong pattern fails before the first epoch, not at the unfreeze epoch."""
    model, opt, unf = _setup({"featurs.*": 5})
    before = model.classifier.weight.data.copy()
    x = np.zeros((4, 3), np.float32)
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1])), plugins=[unf],
                      max_epochs=6, default_plugins=False)
    with pytest.raises(Exception, match=r"unfreeze rule 'featurs.\*' matches no parameter") as err:
        trainer.fit()
    assert isinstance(getattr(err.value, "original", err.value), ParamRuleError)
    assert trainer.global_step == 0
    np.testing.assert_array_equal(model.classifier.weight.data, before)
    model, opt, unf = _setup({"classifier.*": 5})
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1])), plugins=[unf],
                      max_epochs=6, default_plugins=False)
    with pytest.raises(Exception, match="matches only parameters the optimizer already has"):
        trainer.fit()
    assert trainer.global_step == 0


def test_unfreezer_rejects_rule_key_typos_at_construction():
    with pytest.raises(ParamRuleError, match=r"unknown key 'lr_mul' \(did you mean 'lr_mult'\?\)"):
        Unfreezer({"features.*": 1}, param_groups=[{"params": "features.*", "lr_mul": 2}])


def test_build_groups_from_config_checks_and_builds_the_unfreezer():
    from omegaconf import OmegaConf

    from trainkit.compose import ConfigError, build_groups

    def node(**kw):
        base = {"freeze": [], "unfreeze": {}, "param_groups": [], "no_decay": False, "layer_decay": None,
                "lr_slice": None}
        return OmegaConf.create({**base, **kw})

    opt_node = OmegaConf.create({"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.05})
    model = NormNet()
    groups, table, plugins = build_groups(node(**FINETUNE), model, 0.01, optimizer=opt_node)
    assert "unfreeze:features.*/no_decay (epoch 1)" in table
    (unf,) = plugins
    opt = SGD(groups, lr=0.01, momentum=0.9, weight_decay=0.05)
    unf.on_epoch_start(trainer=FakeTrainer(model, opt), epoch=1)
    assert [g["weight_decay"] for g in opt.param_groups if g["name"].startswith("unfreeze:")] == [0.05, 0.0]
    bad = [
        (dict(freeze=["features.*"], unfreeze={"featurs.*": 2}), "params: unfreeze rule 'featurs.*' matches no"),
        (dict(unfreeze={"features.*": 2}), "params: unfreeze rule 'features.*' matches 4 parameters that are not"),
        (dict(param_groups=[{"params": "classifier.*", "momentun": 0.5}]),
         "params: param_groups[0] ('classifier.*') has unknown key 'momentun' (did you mean 'momentum'?)"),
        (dict(param_groups=[{"params": "classifier.*", "betas": [0.9, 0.9]}]), "unknown key 'betas'"),
        (dict(freeze=["features.*"], param_groups=[{"params": "features.*", "lr": 0.1}]),
         "params: rule param_groups[0] ('features.*') matches only frozen parameters (frozen by 'features.*')"),
        (dict(freeze=["features.*"], unfreeze={"features.*": -1}), "epoch must be an int >= 0"),
    ]
    for kw, message in bad:
        with pytest.raises(ConfigError) as err:
            build_groups(node(**kw), NormNet(), 0.01, optimizer=opt_node)
        assert message in str(err.value), (kw, str(err.value))


# --------------------------------------------------------------------------- unfreeze under cyclic schedulers
def _fit_with_unfreeze(make_sched, epochs=4, unfreeze_epoch=2, lr=0.1):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float64)
    y = rng.standard_normal((16, 1)).astype(np.float64)
    model = Net().to(dtype=np.float64)
    groups, _ = param_groups_from_config(model, {"freeze": ["features.*"]}, base_lr=lr)
    opt = SGD(groups, lr=lr, momentum=0.9)
    sched = make_sched(opt)
    seen = []

    class Spy:
        @tk.hookspecs.hookimpl
        def on_batch_start(self, trainer, batch_idx, batch):
            seen.append([(g["name"], g["lr"], g["momentum"]) for g in trainer.optimizer.param_groups])

    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=4), scheduler=sched,
                      plugins=[Unfreezer({"features.*": {"epoch": unfreeze_epoch, "lr_mult": 0.5}}), Spy()],
                      max_epochs=epochs, default_plugins=False)
    trainer.fit()
    return seen


@pytest.mark.parametrize("kind", ["one_cycle", "cyclic"])
def test_unfreeze_under_cyclic_schedulers_joins_the_cycle(kind):
    """The new group follows the schedule a scheduler built with it from the start would give it."""
    from trainkit.optim.lr_scheduler import CyclicLR, OneCycleLR

    def make(opt, max_lr=0.1):
        if kind == "one_cycle":
            return OneCycleLR(opt, max_lr=max_lr, total_steps=16)
        return CyclicLR(opt, base_lr=[m / 10 for m in max_lr] if isinstance(max_lr, list) else max_lr / 10,
                        max_lr=max_lr, step_size_up=3)

    seen = _fit_with_unfreeze(make)  # 4 batches per epoch: unfrozen at step 8
    assert all(len(s) == 1 for s in seen[:8]) and all(len(s) == 2 for s in seen[8:])
    # reference: both groups from the start, the second with peak 0.5 x 0.1 (the unfreeze lr)
    ref_opt = SGD([{"params": [Net().classifier.weight]}, {"params": [Net().classifier.bias]}], lr=0.1, momentum=0.9)
    ref = make(ref_opt, max_lr=[0.1, 0.05])
    want = []
    for _ in range(16):
        want.append([(g["lr"], g["momentum"]) for g in ref_opt.param_groups])
        ref.step()
    for step in range(16):
        assert seen[step][0][1:] == pytest.approx(want[step][0]), step
        if step >= 8:
            assert seen[step][1][0] == "unfreeze:features.*"
            assert seen[step][1][1:] == pytest.approx(want[step][1], rel=1e-12), step
