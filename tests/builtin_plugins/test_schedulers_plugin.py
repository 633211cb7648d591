"""The schedulers plugin: the registered names, built through the one builder
(``trainkit.compose.build_scheduler``: interval, none, composites by name)."""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.builtin_plugins.schedulers import SCHEDULERS
from trainkit.compose import ConfigError
from trainkit.compose import build_scheduler as compose_build
from trainkit.nn import Parameter
from trainkit.optim import SGD
from trainkit.optim import lr_scheduler as L
from trainkit.plugins import registry

NAMES = [
    "step", "multistep", "exponential", "cosine", "cosine_warm_restarts", "cyclic", "one_cycle",
    "plateau", "linear", "constant", "polynomial", "sequential", "chained", "warmup_cosine",
    "warmup_linear", "none",
]


def build_scheduler(name, optimizer, **options):
    """A scheduler from its name and options, as a config node gives them."""
    return compose_build({"name": name, **options}, optimizer)


def _opt():
    return SGD([Parameter(np.zeros(2, np.float32))], lr=0.1, momentum=0.9)


def test_every_name_is_registered_by_the_builtin_plugin():
    reg = registry("schedulers")
    assert sorted(SCHEDULERS) == sorted(NAMES)
    for name in NAMES:
        assert name in reg and reg.provider(name).endswith("schedulers")
    assert reg.get("plateau") is L.ReduceLROnPlateau


def test_none_builds_nothing():
    assert build_scheduler("none", _opt()) is None
    with pytest.raises(ConfigError, match="takes no options"):
        build_scheduler("none", _opt(), gamma=0.1)


def test_interval_override_and_defaults():
    assert build_scheduler("step", _opt(), step_size=3).interval == "epoch"
    assert build_scheduler("step", _opt(), step_size=3, interval="step").interval == "step"
    assert build_scheduler("one_cycle", _opt(), max_lr=1.0, total_steps=10).interval == "step"
    assert build_scheduler("plateau", _opt(), monitor="val/accuracy", mode="max").monitor == "val/accuracy"
    with pytest.raises(ConfigError, match="interval='batch' is not valid; use 'step' or 'epoch'"):
        build_scheduler("step", _opt(), step_size=3, interval="batch")


def test_sequential_from_named_children_matches_direct():
    a, b = _opt(), _opt()
    by_name = build_scheduler("sequential", a, schedulers=[{"name": "linear", "start_factor": 0.1, "total_iters": 4},
                                                           {"name": "cosine", "T_max": 10}], milestones=[4])
    direct = L.SequentialLR(b, [L.LinearLR(b, start_factor=0.1, total_iters=4), L.CosineAnnealingLR(b, 10)], [4])
    for _ in range(12):
        by_name.step()
        direct.step()
        assert a.param_groups[0]["lr"] == b.param_groups[0]["lr"]
    chained = build_scheduler("chained", _opt(), schedulers=[{"name": "exponential", "gamma": 0.5},
                                                            {"name": "step", "step_size": 2}])
    assert isinstance(chained, L.ChainedScheduler)
    with pytest.raises(ConfigError, match=r"schedulers\[0\] must be a mapping with a 'name'"):
        build_scheduler("chained", _opt(), schedulers=[{"gamma": 0.5}])


@pytest.mark.parametrize("name", ["sequential", "chained"])
def test_composite_of_mixed_intervals_by_name(name):
    """warmup_linear steps per batch, cosine per epoch: the composite's interval must be chosen."""
    children = [{"name": "warmup_linear", "total_steps": 20, "warmup": 4}, {"name": "cosine", "T_max": 5}]
    extra = {"milestones": [4]} if name == "sequential" else {}
    sched = build_scheduler(name, _opt(), schedulers=children, **extra)
    with pytest.raises(ValueError, match=r"different intervals \(WarmupLinearLR: 'step', CosineAnnealingLR: 'epoch'\)"):
        sched.interval  # noqa: B018
    assert build_scheduler(name, _opt(), schedulers=children, interval="step", **extra).interval == "step"


def test_composite_interval_from_a_config_node():
    """compose builds the composite, then sets scheduler.interval on it: no error for mixed children."""
    from omegaconf import OmegaConf

    node = OmegaConf.create({"name": "sequential", "milestones": [4], "interval": "step", "schedulers": [
        {"name": "warmup_linear", "total_steps": 20, "warmup": 4}, {"name": "cosine", "T_max": 5}]})
    assert compose_build(node, _opt(), steps_per_epoch=5, max_epochs=4).interval == "step"
