"""The built-in optimizer plugin registers all 15 algorithms under torch's lowercase names."""
from __future__ import annotations

import inspect

import pluggy

import trainkit.optim as optim
from trainkit import hookspecs
from trainkit.builtin_plugins import optimizers as plugin

EXPECTED = {"sgd", "adam", "adamw", "adamax", "adadelta", "adagrad", "asgd", "nadam", "radam", "rmsprop",
            "rprop", "sparse_adam", "lbfgs", "adafactor", "muon"}


def test_registers_every_optimizer_through_pluggy():
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="builtin-optimizers")
    registered = {}
    pm.hook.register_optimizers(register=lambda name, cls: registered.setdefault(name, cls))
    assert set(registered) == EXPECTED
    for name, cls in registered.items():
        assert issubclass(cls, optim.Optimizer)
        assert "params" in inspect.signature(cls).parameters
    assert registered["adamw"] is optim.AdamW


def test_defaults_come_from_signatures():
    assert inspect.signature(optim.AdamW).parameters["weight_decay"].default == 1e-2
    assert inspect.signature(optim.Adamax).parameters["lr"].default == 2e-3
    assert inspect.signature(optim.Muon).parameters["ns_steps"].default == 5
