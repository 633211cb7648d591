"""param_rules plugin: config -> groups + table, and Unfreezer (one group per rule, once; checkpoints)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import trainkit as tk
from trainkit import nn
from trainkit.builtin_plugins.param_rules import Unfreezer, param_groups_from_config
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
    ckpt = {"plugins": {}}
    unf.on_save_checkpoint(trainer=trainer, checkpoint=ckpt)
    assert json.loads(json.dumps(ckpt)) == {"plugins": {"unfreeze": {"applied": ["features.*"]}}}
    # same process: loading again does not add a second group
    unf.on_load_checkpoint(trainer=trainer, checkpoint=ckpt)
    assert len(opt.param_groups) == 2
    # fresh run resumed after the unfreeze epoch: group re-created once, not again at later epochs
    model2, opt2, unf2 = _setup({"features.*": 1})
    trainer2 = FakeTrainer(model2, opt2)
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
def _unfreeze_run(run_dir, max_epochs, resume=None):
    """Momentum SGD + ExponentialLR, ``features.*`` frozen until epoch 2, a checkpoint every epoch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 3)).astype(np.float64)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1).astype(np.float64)
    model = Net().to(dtype=np.float64)
    groups, _ = param_groups_from_config(model, {"freeze": ["features.*"]}, base_lr=0.05)
    opt = SGD(groups, lr=0.05, momentum=0.9, weight_decay=1e-3)
    sched = ExponentialLR(opt, gamma=0.8)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=3)
    ckpt_plugin = registry("callbacks").get("checkpointing")(every_n_epochs=1, keep_last=5, monitor=None)
    trainer = Trainer(model, nn.MSELoss(), opt, loader, scheduler=sched,
                      plugins=[Unfreezer({"features.*": {"epoch": 2, "lr_mult": 0.5}}), ckpt_plugin],
                      max_epochs=max_epochs, run_dir=run_dir, resume=resume, default_plugins=False)
    trainer.fit()
    return trainer


def test_resume_after_an_unfreeze_continues_bit_identically(tmp_path):
    straight = _unfreeze_run(tmp_path / "straight", max_epochs=5)
    first = _unfreeze_run(tmp_path / "split", max_epochs=3)  # unfrozen at epoch 2, checkpoint after epoch 3
    assert len(first.optimizer.param_groups) == 2
    resumed = _unfreeze_run(tmp_path / "split", max_epochs=5, resume=tmp_path / "split")
    assert resumed.resumed_from is not None and resumed.epoch == 5
    opt, ref = resumed.optimizer, straight.optimizer
    assert [g["name"] for g in opt.param_groups] == ["default", "unfreeze:features.*"]
    assert resumed.schedulers[0].base_lrs == straight.schedulers[0].base_lrs  # no duplicated entry
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref.param_groups]
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
