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
