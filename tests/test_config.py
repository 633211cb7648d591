"""Config schemas, generated optimizer/scheduler nodes, override checks and the builder (in-process).

A test optimizer/scheduler is registered through a plugin object for the
duration of a test, so these tests do not depend on which optimizers exist.
"""
from __future__ import annotations

import inspect
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

import trainkit
from trainkit import nn
from trainkit.compose import ConfigError, build_model, build_optimizer, call_kwargs, check_config
from trainkit.config import DATA_DERIVED, LOADER_KEYS, Config, node_for, register_configs
from trainkit.optim.optimizer import Optimizer
from trainkit.plugins import get_plugin_manager, registry


def _callback(x):  # a callable default: not expressible in a config
    return x


class ToyOpt(Optimizer):
    """A test optimizer with torch-like argument kinds (tuple, float, int, bool, callable)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, hook=_callback):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data -= group["lr"] * p.grad


class AnnotatedOpt(Optimizer):
    def __init__(self, params, lr: float = 0.1, momentum: float = 0, steps: int = 3):
        super().__init__(params, dict(lr=lr, momentum=momentum, steps=steps))

    def step(self, closure=None):  # pragma: no cover - never stepped
        pass


class ToySched:
    interval = "epoch"

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.optimizer, self.T_max, self.eta_min = optimizer, T_max, eta_min


class ToyNet(nn.Module):
    def __init__(self, in_features: int, num_classes: int, width: int = 4):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)
        self.width = width

    def forward(self, x):
        return self.fc(x)


class _TestPlugin:
    @trainkit.hookimpl
    def register_optimizers(self, register):
        register("tk_toy", ToyOpt)
        register("tk_annotated", AnnotatedOpt)

    @trainkit.hookimpl
    def register_schedulers(self, register):
        register("tk_toy_sched", ToySched)


@pytest.fixture
def toy_plugin():
    """Register the test optimizers for one test, then remove them again."""
    pm = get_plugin_manager()
    plugin = _TestPlugin()
    pm.register(plugin, name="tk-test-plugin")
    try:
        register_configs()
        yield plugin
    finally:
        pm.unregister(plugin)


# --------------------------------------------------------------------------- generated nodes


def test_generated_optimizer_node_is_typed_from_the_signature():
    cfg = OmegaConf.structured(node_for("optimizer", "tk_toy", ToyOpt))
    assert cfg.name == "tk_toy"
    assert OmegaConf.to_container(cfg)["lr"] == "${lr}"  # the run's lr
    assert list(cfg.betas) == [0.9, 0.999] and isinstance(cfg.betas[0], float)
    assert "hook" not in cfg  # callables are left to the class default
    assert "foreach" in cfg and cfg.foreach is None
    cfg.eps = "1e-3"  # a numeric string is converted (the default is a float)
    assert cfg.eps == pytest.approx(1e-3) and isinstance(cfg.eps, float)
    with pytest.raises(ValidationError, match="eps"):
        cfg.eps = "abc"
    cfg.betas = [0.5, 0.99]
    with pytest.raises(ValidationError):
        cfg.betas = 0.5
    with pytest.raises(Exception, match="lrr"):
        cfg.lrr = 0.1  # struct: unknown keys are rejected


def test_annotations_win_over_int_defaults():
    cfg = OmegaConf.structured(node_for("optimizer", "tk_annotated", AnnotatedOpt))
    cfg.momentum = "0.9"  # `momentum: float = 0` takes a float though its default is the int 0
    assert cfg.momentum == pytest.approx(0.9)
    with pytest.raises(ValidationError):
        cfg.steps = "many"


def test_scheduler_node_links_required_lengths_and_has_interval():
    cfg = OmegaConf.structured(node_for("scheduler", "tk_toy_sched", ToySched))
    assert OmegaConf.to_container(cfg)["T_max"] == "${trainer.max_epochs}"
    assert "interval" in cfg and cfg.interval is None
    assert "optimizer" not in cfg


def test_model_node_leaves_data_sizes_null():
    cfg = OmegaConf.structured(node_for("model", "toy", ToyNet))
    assert cfg.in_features is None and cfg.num_classes is None
    assert cfg.width == 4 and "_target_" in cfg


# --------------------------------------------------------------------------- call_kwargs


def test_call_kwargs_converts_numeric_strings_and_rejects_others():
    node = OmegaConf.create({"name": "tk_toy", "lr": "1e-3", "weight_decay": "0", "betas": [0.8, 0.9]})
    kwargs = call_kwargs("optimizer", node, ToyOpt, skip_first=True)
    assert kwargs["lr"] == pytest.approx(1e-3) and isinstance(kwargs["lr"], float)
    assert kwargs["weight_decay"] == 0
    assert kwargs["betas"] == (0.8, 0.9)  # tuple, like the default
    bad = OmegaConf.create({"name": "tk_toy", "lr": "fast"})
    with pytest.raises(ConfigError, match=r"optimizer\.lr='fast' is not a number"):
        call_kwargs("optimizer", bad, ToyOpt, skip_first=True)


def test_call_kwargs_suggests_the_closest_argument():
    node = OmegaConf.create({"name": "tk_toy", "epss": 1e-6})
    with pytest.raises(ConfigError, match=r"optimizer\.epss .*Did you mean optimizer\.eps"):
        call_kwargs("optimizer", node, ToyOpt, skip_first=True)


def test_call_kwargs_names_a_missing_required_value():
    node = OmegaConf.create({"name": "tk_toy_sched", "T_max": "???"})
    with pytest.raises(ConfigError, match=r"scheduler\.T_max is required"):
        call_kwargs("scheduler", node, ToySched, skip_first=True)


# --------------------------------------------------------------------------- compose + check


def test_top_level_lr_sets_the_optimizer_lr(toy_plugin):
    from trainkit.overrides import validate

    (cfg,) = validate(["optimizer=tk_toy", "lr=1e-3"])
    assert cfg.optimizer.name == "tk_toy"
    assert cfg.optimizer.lr == pytest.approx(1e-3)
    (cfg,) = validate(["optimizer=tk_toy", "optimizer.betas=[0.9,0.99]", "optimizer.eps=1e-6"])
    assert list(cfg.optimizer.betas) == [0.9, 0.99]


def test_top_level_device_sets_the_trainer_device():
    """`trainkit train device=auto`, as the tutorials write it; trainer.device still wins."""
    from trainkit.overrides import validate

    register_configs()
    (cfg,) = validate(["device=auto"])
    assert cfg.trainer.device == "auto"
    (cfg,) = validate([])
    assert cfg.trainer.device == "cpu"
    (cfg,) = validate(["device=auto", "trainer.device=cpu"])
    assert cfg.trainer.device == "cpu"
    (cfg,) = validate(["trainer=debug", "device=auto"])  # every trainer preset follows it
    assert cfg.trainer.device == "auto"
    with pytest.raises(ConfigError, match=r"trainer\.device='gpu0' is not valid"):
        validate(["device=gpu0"])


def test_plugin_optimizer_is_selectable_without_yaml(toy_plugin):
    from trainkit.overrides import validate

    assert not (resources.files("trainkit.conf") / "optimizer" / "tk_toy.yaml").is_file()
    (cfg,) = validate(["optimizer=tk_annotated", "optimizer.momentum=0.9"])
    assert cfg.optimizer.momentum == pytest.approx(0.9)


def test_unknown_optimizer_lists_names_and_providers(toy_plugin):
    from trainkit.overrides import validate

    with pytest.raises(ConfigError) as info:
        validate(["optimizer=tk_toyy"])
    message = str(info.value)
    assert "tk_toyy" in message and "Did you mean 'tk_toy'" in message
    assert "tk_annotated (tk-test-plugin)" in message


@pytest.mark.parametrize(
    "override, suggestion",
    [
        ("optimizer.lrr=0.1", "optimizer.lr"),
        ("trainer.max_epoch=3", "trainer.max_epochs"),
        ("trainer.grad_clip.mx=1", "trainer.grad_clip.max"),
        ("modle.hidden_sizes=[8]", "model"),
    ],
)
def test_misspelt_key_suggests_the_right_one(toy_plugin, override, suggestion):
    from trainkit.overrides import validate

    with pytest.raises(ConfigError, match=f"Did you mean '{suggestion}'"):
        validate(["optimizer=tk_toy", override])


def test_wrongly_typed_values_name_key_and_value(toy_plugin):
    from trainkit.overrides import validate

    with pytest.raises(ConfigError, match=r"(?s)'abc'.*full_key: lr"):
        validate(["optimizer=tk_toy", "lr=abc"])
    with pytest.raises(ConfigError, match="trainer.device='gpu'"):
        validate(["optimizer=tk_toy", "trainer.device=gpu"])
    with pytest.raises(ConfigError, match="callbacks.nan_guard"):
        validate(["optimizer=tk_toy", "callbacks.nan_guard.on_nonfinite=ignore"])


def test_sweep_is_checked_per_job(toy_plugin):
    from trainkit.overrides import validate

    cfgs = validate(["optimizer=tk_toy,tk_annotated", "lr=0.1,0.01"], multirun=True)
    assert sorted((c.optimizer.name, c.optimizer.lr) for c in cfgs) == sorted(
        (o, lr) for o in ("tk_toy", "tk_annotated") for lr in (0.1, 0.01)
    )
    # `betas` exists for tk_toy only: the tk_annotated job is the one named
    with pytest.raises(ConfigError, match="sweep job: optimizer=tk_annotated"):
        validate(["optimizer=tk_toy,tk_annotated", "optimizer.betas=[0.9,0.9]"], multirun=True)
    with pytest.raises(ConfigError, match="add -m"):
        validate(["optimizer=tk_toy", "lr=0.1,0.01"])


def test_user_model_target(toy_plugin):
    from trainkit.compose import DataInfo
    from trainkit.overrides import validate

    (cfg,) = validate(["optimizer=tk_toy", f"model._target_={__name__}.ToyNet"])
    model = build_model(cfg.model, DataInfo((2,), 3, ()))
    assert isinstance(model, ToyNet)
    assert model.fc.weight.shape == (3, 2)  # sizes from the data
    with pytest.raises(ConfigError, match="cannot be imported"):
        build_model(OmegaConf.create({"name": "mlp", "_target_": "no_such_pkg.Net"}), DataInfo((2,), 3, ()))


def test_optimizer_null_lr_keeps_the_class_default(toy_plugin):
    model = ToyNet(2, 3)
    node = OmegaConf.create({"name": "tk_annotated", "lr": None, "momentum": 0.5, "steps": 3})
    opt = build_optimizer(node, model.parameters())
    assert opt.param_groups[0]["lr"] == 0.1


# --------------------------------------------------------------------------- shipped YAML


def _yaml(group: str):
    folder = resources.files("trainkit.conf") / group
    return {p.name[:-5]: yaml.safe_load(p.read_text()) for p in folder.iterdir() if p.name.endswith(".yaml")}


@pytest.mark.parametrize("group, kind, extra", [("data", "datasets", set(LOADER_KEYS)), ("model", "models", {"_target_"})])
def test_yaml_keys_are_the_factory_arguments(group, kind, extra):
    reg = registry(kind)
    files = _yaml(group)
    assert files, f"no YAML in conf/{group}"
    for name, body in files.items():
        target = reg.get(body["name"])
        params = set(inspect.signature(target).parameters)
        keys = set(body) - {"name"} - extra
        assert keys <= params, f"conf/{group}/{name}.yaml: {sorted(keys - params)} are not arguments of {target}"
        if group == "model":
            assert set(DATA_DERIVED) & params <= set(body), f"{name}: data-derived sizes must be listed (null)"


def test_every_builtin_group_option_composes():
    """Model and data YAML and the typed schema agree (values are validated by the schema)."""
    base = OmegaConf.structured(Config)
    for group in ("trainer", "params"):
        folder = resources.files("trainkit.conf") / group
        for name, body in _yaml(group).items():
            global_package = (folder / f"{name}.yaml").read_text().startswith("# @package _global_")
            # raises on a misspelt key or a wrong type
            OmegaConf.merge(base if global_package else base[group], body or {})


def test_run_ids_differ_between_processes():
    code = "from trainkit.config import run_id; print(run_id())"
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
           for _ in range(2)}
    assert len(ids) == 2


def test_check_config_on_the_default_config(toy_plugin):
    from trainkit.overrides import validate

    (cfg,) = validate(["optimizer=tk_toy", "scheduler=tk_toy_sched"])
    assert cfg.scheduler.T_max == cfg.trainer.max_epochs
    check_config(cfg)
    assert np.isclose(cfg.optimizer.lr, 0.01)


def test_digits_without_scikit_learn_is_a_config_error_naming_the_extra(monkeypatch):
    """A missing optional dependency is reported like any other config error, not a traceback."""
    from trainkit.compose import build_data

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ConfigError, match=r"data=digits: .*trainkit\[datasets\]"):
        build_data(OmegaConf.create({"name": "digits", "batch_size": 8}))


# --------------------------------------------------------------------------- run-derived values, checks
def _validate(*overrides):
    from trainkit.overrides import validate

    register_configs()
    (cfg,) = validate(list(overrides))
    return cfg


@pytest.mark.parametrize("name", ["warmup_cosine", "warmup_linear"])
def test_warmup_schedulers_take_total_steps_from_the_run(name):
    from trainkit.compose import build_run

    cfg = _validate(f"scheduler={name}", "scheduler.warmup=0.1", "data=regression", "model=linear", "loss=mse",
                    "data.n_samples=100", "data.batch_size=16", "trainer.max_epochs=3", "trainer.accumulate=2")
    assert cfg.scheduler.total_steps is None
    run = build_run(cfg)
    # 80 training samples / 16 = 5 batches, accumulate 2 -> 3 updates an epoch (the last one partial)
    assert run.scheduler.total_steps == 9


def test_a_user_total_steps_shorter_than_the_run_is_warned_about(caplog):
    from trainkit.compose import build_run

    cfg = _validate("scheduler=warmup_linear", "scheduler.total_steps=4", "data=regression", "model=linear",
                    "loss=mse", "data.n_samples=100", "data.batch_size=16", "trainer.max_epochs=3")
    with caplog.at_level("WARNING", logger="trainkit.compose"):
        run = build_run(cfg)
    assert run.scheduler.total_steps == 4
    assert "scheduler.total_steps=4 is shorter than the run (15 updates)" in caplog.text


def test_one_cycle_with_accumulate_counts_the_partial_update_at_epoch_end():
    from trainkit.compose import build_run

    cfg = _validate("scheduler=one_cycle", "trainer.accumulate=3", "data.n_samples=300", "trainer.max_epochs=2",
                    "callbacks.progress.enabled=false")
    run = build_run(cfg)
    batches = len(run.train_loader)
    assert batches % 3  # a partial accumulation cycle at each epoch end
    assert run.scheduler.total_steps == -(-batches // 3) * 2
    run.trainer.default_plugins = False
    run.trainer.plugins = []
    run.trainer.fit()  # steps the schedule exactly total_steps times (one more raises)
    assert run.trainer.global_step == run.scheduler.total_steps


def test_children_of_composite_schedulers_get_the_top_level_links():
    from trainkit.compose import build_run

    cfg = _validate("scheduler=sequential", "trainer.max_epochs=7", "lr=0.2", "data.n_samples=100",
                    "+scheduler.schedulers=[{name: cosine}, {name: cyclic, base_lr: 0.01}]",
                    "scheduler.milestones=[3]", "scheduler.interval=epoch")
    run = build_run(cfg)
    cosine, cyclic = run.scheduler._schedulers
    assert cosine.T_max == 7
    assert cyclic.max_lrs == pytest.approx([0.2])


@pytest.mark.parametrize("value", [0, -3])
def test_batch_size_below_one_is_rejected(value):
    with pytest.raises(ConfigError, match=rf"data.batch_size={value} is not valid.*>= 1"):
        _validate(f"data.batch_size={value}")


@pytest.mark.parametrize(
    "overrides, key, hint",
    [
        (["callbacks.checkpointing.monitor=val/acc"], "callbacks.checkpointing.monitor='val/acc'", "val/accuracy"),
        (["callbacks.early_stopping.enabled=true", "callbacks.early_stopping.monitor=val/acc"],
         "callbacks.early_stopping.monitor='val/acc'", "val/accuracy"),
        (["scheduler=plateau", "scheduler.monitor=trian/loss"], "scheduler.monitor='trian/loss'", "train/loss"),
    ],
)
def test_a_monitor_no_run_produces_is_a_config_error(overrides, key, hint):
    with pytest.raises(ConfigError, match=rf"{key} is not a metric this run produces. Did you mean '{hint}'"):
        _validate(*overrides)


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["callbacks.early_stopping.enabled=true", "callbacks.early_stopping.monitor=val/accuracy"],
         "callbacks.early_stopping.monitor"),
        (["callbacks.checkpointing.monitor=val/accuracy"], "callbacks.checkpointing.monitor"),
        (["scheduler=plateau", "scheduler.monitor=val/accuracy"], "scheduler.monitor"),
    ],
)
def test_accuracy_monitor_on_regression_is_an_error_listing_the_metrics(overrides, key):
    from trainkit.compose import build_run

    cfg = _validate("data=regression", "model=linear", "loss=mse", "data.n_samples=50", *overrides)
    with pytest.raises(ConfigError, match=rf"{key}='val/accuracy' is not a metric.*Available: train/loss.*val/loss"):
        build_run(cfg)


def test_run_id_is_fresh_after_reset():
    from trainkit.config import reset_run_id, run_id

    first = run_id()
    assert run_id() == first
    reset_run_id()
    assert run_id() != first
