"""Trainer: the fixed step order, accumulation, schedulers, transforms, validation, errors."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.backend import Device
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.hookspecs import PHASES, hookimpl
from trainkit.optim import SGD
from trainkit.plugins import PluginHookError, get_plugin_manager
from trainkit.trainer import LIFECYCLE_HOOKS, Trainer


# --------------------------------------------------------------------------- helpers
def regression_data(n=32, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(dtype)
    y = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3).astype(dtype)
    return x, y


def linear_model(seed=0, dtype=np.float64):
    trainkit.manual_seed(seed)
    model = nn.Linear(3, 1)
    return model.to(dtype=dtype)


class Log:
    """One shared list of events, written by the recorder plugin and the stand-ins."""

    def __init__(self):
        self.events = []

    def add(self, *event):
        self.events.append(event[0] if len(event) == 1 else event)


class Recorder:
    """Records every lifecycle hook the Trainer calls."""

    name = "recorder"

    def __init__(self, log):
        self.log = log

    @hookimpl
    def on_fit_start(self, trainer):
        self.log.add("fit_start")

    @hookimpl
    def on_fit_end(self, trainer, metrics):
        self.log.add("fit_end")

    @hookimpl
    def on_exception(self, trainer, exception):
        self.log.add("exception", type(exception).__name__)

    @hookimpl
    def on_teardown(self, trainer):
        self.log.add("teardown")

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        self.log.add("epoch_start", epoch)

    @hookimpl
    def on_validation_end(self, trainer, metrics):
        self.log.add("validation_end", tuple(sorted(metrics)))

    @hookimpl
    def on_epoch_end(self, trainer, epoch, metrics):
        self.log.add("epoch_end", epoch)

    @hookimpl
    def on_batch_start(self, trainer, batch_idx, batch):
        self.log.add("batch_start", batch_idx)

    @hookimpl
    def on_train_loss(self, trainer, batch_idx, loss):
        self.log.add("train_loss", batch_idx)

    @hookimpl
    def on_after_backward(self, trainer):
        self.log.add("after_backward")

    @hookimpl
    def on_before_optimizer_step(self, trainer, optimizer):
        self.log.add("before_optimizer_step")

    @hookimpl
    def on_after_optimizer_step(self, trainer, optimizer):
        self.log.add("after_optimizer_step")

    @hookimpl
    def on_step_end(self, trainer, step, skipped):
        self.log.add("step_end", step, skipped)

    @hookimpl
    def on_batch_end(self, trainer, batch_idx, loss, skipped):
        self.log.add("batch_end", batch_idx, skipped)

    @hookimpl
    def on_log(self, trainer, step, metrics):
        self.log.add("log", step, tuple(sorted(metrics)))

    @hookimpl
    def on_save_checkpoint(self, trainer, checkpoint):
        self.log.add("save_checkpoint")

    @hookimpl
    def on_load_checkpoint(self, trainer, checkpoint):
        self.log.add("load_checkpoint")


class LoggedSGD(SGD):
    """SGD whose zero_grad/step are written into the event log."""

    def __init__(self, params, log, **kw):
        super().__init__(params, **kw)
        self._log = log

    def zero_grad(self, set_to_none=True):
        self._log.add("zero_grad")
        super().zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        self._log.add("optimizer.step")
        return super().step(closure)


class LoggedScheduler:
    def __init__(self, log, label, interval="epoch", monitor=None):
        self.log, self.label, self.interval = log, label, interval
        if monitor is not None:
            self.monitor = monitor
        self.steps = 0

    def step(self, metric=None):
        self.steps += 1
        self.log.add(f"{self.label}.step")

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


class LoggedTransform:
    def __init__(self, log, label, result=True):
        self.log, self.label, self.result = log, label, result

    def __call__(self, parameters):
        self.log.add(self.label)
        return self.result


def make_trainer(log=None, *, n=16, batch_size=4, **kw):
    x, y = regression_data(n)
    model = linear_model()
    log = log or Log()
    opt = kw.pop("optimizer", None) or LoggedSGD(model.parameters(), log, lr=0.05)
    kw.setdefault("default_plugins", False)
    return Trainer(
        model,
        nn.MSELoss(),
        opt,
        DataLoader(TensorDataset(x, y), batch_size=batch_size),
        **kw,
    )


# --------------------------------------------------------------------------- step order
def test_step_order_is_fixed_and_matches_the_docstring():
    log = Log()
    step_sched = LoggedScheduler(log, "step_scheduler", interval="step")
    epoch_sched = LoggedScheduler(log, "epoch_scheduler")
    plateau = LoggedScheduler(log, "plateau_scheduler", monitor="val/loss")
    x, y = regression_data(8, seed=1)
    trainer = make_trainer(
        log,
        n=16,
        batch_size=4,
        plugins=[Recorder(log)],
        val_loader=DataLoader(TensorDataset(x, y), batch_size=4),
        scheduler=[epoch_sched, plateau, step_sched],
        grad_transforms=[LoggedTransform(log, "transform_a"), LoggedTransform(log, "transform_b")],
        accumulate=2,
        log_every=2,
        max_epochs=1,
    )
    trainer.fit()
    train_metrics = ("train/grad_norm", "train/loss", "train/lr/0", "train/skipped_steps")

    def update(step):
        return [
            "transform_a", "transform_b", "before_optimizer_step", "optimizer.step",
            "after_optimizer_step", "step_scheduler.step",
        ]

    expected = [
        "fit_start",
        ("epoch_start", 0),
        ("batch_start", 0), ("train_loss", 0), "zero_grad", "after_backward", ("batch_end", 0, False),
        ("batch_start", 1), ("train_loss", 1), "after_backward",
        *update(1), ("step_end", 1, False), ("batch_end", 1, False),
        ("batch_start", 2), ("train_loss", 2), "zero_grad", "after_backward", ("batch_end", 2, False),
        ("batch_start", 3), ("train_loss", 3), "after_backward",
        *update(2), ("log", 2, train_metrics), ("step_end", 2, False), ("batch_end", 3, False),
        ("validation_end", ("val/loss",)),
        "plateau_scheduler.step",
        "epoch_scheduler.step",
        ("log", 2, ("time/epoch", "val/loss")),
        ("epoch_end", 0),
        "fit_end",
        "teardown",
    ]
    assert log.events == expected


def test_every_lifecycle_hook_is_called_by_the_trainer_and_tested(tmp_path):
    from trainkit.builtin_plugins.checkpointing import Checkpointing

    lifecycle = {h for phase, hooks in PHASES.items() if phase != "registration" for h in hooks}
    assert lifecycle == set(LIFECYCLE_HOOKS)
    recorded = {name[3:] for name in vars(Recorder) if name.startswith("on_")}
    assert recorded == {h[3:] for h in lifecycle}

    log = Log()
    x, y = regression_data(8, seed=1)
    val = DataLoader(TensorDataset(x, y), batch_size=4)
    run = dict(plugins=[Recorder(log), Checkpointing()], run_dir=tmp_path, val_loader=val)
    make_trainer(log, max_epochs=1, **run).fit()  # writes a checkpoint
    make_trainer(log, max_epochs=2, resume=tmp_path, **run).fit()  # loads it

    class Failing:
        @hookimpl
        def on_epoch_start(self, trainer, epoch):
            raise RuntimeError("fail")

    with pytest.raises(PluginHookError):
        make_trainer(log, max_epochs=1, plugins=[Recorder(log), Failing()]).fit()
    called = {e if isinstance(e, str) else e[0] for e in log.events}
    assert {f"on_{name}" for name in called} >= set(LIFECYCLE_HOOKS)


def test_grad_norm_is_logged_without_clipping_and_only_computed_on_log_steps(monkeypatch):
    norms, logged = {}, {}

    class Spy:
        @hookimpl
        def on_before_optimizer_step(self, trainer, optimizer):
            grads = [p.grad for g in optimizer.param_groups for p in g["params"]]
            norms[trainer.global_step + 1] = float(np.sqrt(sum((g ** 2).sum() for g in grads)))

        @hookimpl
        def on_log(self, trainer, step, metrics):
            if "train/grad_norm" in metrics:
                logged[step] = metrics["train/grad_norm"]

    calls = []
    import trainkit.train_log as train_log

    original = train_log.grad_norm
    monkeypatch.setattr(train_log, "grad_norm", lambda params: calls.append(1) or original(params))
    make_trainer(plugins=[Spy()], log_every=3, max_epochs=3).fit()  # 4 updates an epoch, 12 in all
    assert sorted(logged) == [3, 4, 6, 8, 9, 12]  # every 3 steps and at the epoch-end flushes
    assert len(calls) == len(logged)  # computed once per log, not every step
    for step, value in logged.items():
        assert value == pytest.approx(norms[step], rel=1e-10)


def test_lbfgs_is_stepped_with_a_closure():
    from trainkit.optim import LBFGS

    x, y = regression_data(32)
    model = linear_model()
    loss_fn = nn.MSELoss()
    before = float(loss_fn(model(trainkit.tensor(x)), trainkit.tensor(y)).data)
    trainer = Trainer(model, loss_fn, LBFGS(model.parameters(), lr=0.5),
                      DataLoader(TensorDataset(x, y), batch_size=32), max_epochs=3, default_plugins=False)
    trainer.fit()
    after = float(loss_fn(model(trainkit.tensor(x)), trainkit.tensor(y)).data)
    assert after < 1e-3 * before
    with pytest.raises(ValueError, match="LBFGS.*accumulate=2"):
        Trainer(model, loss_fn, LBFGS(model.parameters()), DataLoader(TensorDataset(x, y)), accumulate=2)


# --------------------------------------------------------------------------- numerics
def test_accumulation_matches_one_big_batch():
    x, y = regression_data(32)
    results = []
    for batch_size, accumulate in ((16, 1), (8, 2), (4, 4)):
        model = linear_model()
        opt = SGD(model.parameters(), lr=0.1)
        Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=batch_size),
                accumulate=accumulate, max_epochs=3, default_plugins=False).fit()
        results.append(model.weight.data.copy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-6)
    assert not np.allclose(results[0], linear_model().weight.data)


def test_training_matches_a_hand_written_loop():
    x, y = regression_data(16)
    model = linear_model()
    Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1, momentum=0.9),
            DataLoader(TensorDataset(x, y), batch_size=4), max_epochs=2, default_plugins=False).fit()
    ref = linear_model()
    opt = SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.MSELoss()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    for _ in range(2):
        for xb, yb in loader:
            loss = loss_fn(ref(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    np.testing.assert_array_equal(model.weight.data, ref.weight.data)
    np.testing.assert_array_equal(model.bias.data, ref.bias.data)


def test_rejected_update_is_skipped_and_does_not_advance_schedulers():
    log = Log()
    sched = LoggedScheduler(log, "s", interval="step")
    trainer = make_trainer(log, grad_transforms=[LoggedTransform(log, "veto", result=False)],
                           scheduler=sched, max_epochs=2)
    before = trainer.model.weight.data.copy()
    metrics = trainer.fit()
    assert trainer.skipped_steps == 8 and trainer.global_step == 8
    assert sched.steps == 0 and "optimizer.step" not in log.events
    np.testing.assert_array_equal(trainer.model.weight.data, before)
    assert metrics["train/skipped_steps"] == 8


def test_transforms_run_in_list_order_and_stop_at_the_first_veto():
    log = Log()
    transforms = [LoggedTransform(log, "first"), LoggedTransform(log, "veto", False), LoggedTransform(log, "never")]
    make_trainer(log, grad_transforms=transforms, max_steps=1).fit()
    assert [e for e in log.events if e in ("first", "veto", "never")] == ["first", "veto"]


def test_max_steps_stops_mid_epoch_and_validates_at_the_end():
    x, y = regression_data(8, seed=2)
    trainer = make_trainer(max_steps=6, max_epochs=10, val_loader=DataLoader(TensorDataset(x, y), batch_size=8))
    metrics = trainer.fit()
    assert trainer.global_step == 6 and trainer.epoch == 1  # 4 batches per epoch
    assert "val/loss" in metrics and "train/loss" in metrics


def test_epoch_and_step_schedulers_step_at_their_interval():
    log = Log()
    step_sched, epoch_sched = LoggedScheduler(log, "s", "step"), LoggedScheduler(log, "e")
    make_trainer(log, scheduler=[step_sched, epoch_sched], max_epochs=3).fit()
    assert (step_sched.steps, epoch_sched.steps) == (12, 3)


def test_real_step_lr_scheduler_changes_the_logged_lr():
    from trainkit.optim.lr_scheduler import StepLR

    model = linear_model()
    opt = SGD(model.parameters(), lr=0.1)
    x, y = regression_data(16)
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=4),
                      scheduler=StepLR(opt, step_size=1, gamma=0.5), max_epochs=3, log_every=4,
                      default_plugins=False)
    lrs = []

    class LrSpy:
        @hookimpl
        def on_log(self, trainer, step, metrics):
            if "train/lr/0" in metrics:
                lrs.append(metrics["train/lr/0"])

    trainer.plugins.append(LrSpy())
    trainer.fit()
    assert lrs == pytest.approx([0.1, 0.05, 0.025])


def _plateau_trainer(monitor, val=False):
    from trainkit.optim.lr_scheduler import ReduceLROnPlateau

    x, y = regression_data(8)
    model = linear_model()
    opt = SGD(model.parameters(), lr=1e-12)  # the loss cannot improve
    sched = ReduceLROnPlateau(opt, patience=0, monitor=monitor)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    return Trainer(model, nn.MSELoss(), opt, loader, val_loader=loader if val else None, scheduler=sched,
                   max_epochs=3, default_plugins=False), opt


def test_plateau_scheduler_without_validation_steps_on_the_epoch_metrics():
    trainer, opt = _plateau_trainer("train/loss")
    trainer.fit()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-12 * 0.1 ** 2)  # epochs 2 and 3 did not improve


def test_plateau_scheduler_monitoring_validation_without_val_data_is_an_error():
    from trainkit.optim.lr_scheduler import MissingMetricError

    trainer, _ = _plateau_trainer("val/loss")
    with pytest.raises(MissingMetricError, match="'val/loss'.*Available metrics: .*train/loss"):
        trainer.fit()


def test_plateau_scheduler_with_a_missing_metric_lists_the_metrics():
    from trainkit.optim.lr_scheduler import ReduceLROnPlateau

    x, y = regression_data(8)
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=4),
                      val_loader=DataLoader(TensorDataset(x, y), batch_size=4),
                      scheduler=ReduceLROnPlateau(opt, monitor="val/accuracy"), default_plugins=False)
    with pytest.raises(KeyError, match="val/accuracy.*val/loss"):
        trainer.fit()


# --------------------------------------------------------------------------- validation
def test_validation_loss_and_accuracy_for_classification():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 4))
    y = rng.integers(0, 3, size=10)
    trainkit.manual_seed(0)
    model = nn.Linear(4, 3).double()
    trainer = Trainer(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1),
                      DataLoader(TensorDataset(x, y), batch_size=4),
                      val_loader=DataLoader(TensorDataset(x, y), batch_size=4), default_plugins=False)
    metrics = trainer.validate()
    logits = x @ model.weight.data.numpy().T + model.bias.data.numpy()
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert metrics["val/loss"] == pytest.approx(-logp[np.arange(10), y].mean(), rel=1e-6)
    assert metrics["val/accuracy"] == pytest.approx((logits.argmax(axis=1) == y).mean())
    assert model.training  # back in train mode


def test_regression_validation_has_no_accuracy():
    x, y = regression_data(8)
    trainer = make_trainer(val_loader=DataLoader(TensorDataset(x, y), batch_size=3))
    assert set(trainer.validate()) == {"val/loss"}


# --------------------------------------------------------------------------- plugins / errors
def test_plugins_are_registered_for_the_fit_only():
    log = Log()
    rec = Recorder(log)
    trainer = make_trainer(log, plugins=[rec], max_steps=1)
    trainer.fit()
    assert "fit_start" in log.events
    assert not get_plugin_manager().is_registered(rec)


def test_hook_exception_names_plugin_calls_on_exception_and_teardown():
    log = Log()

    class Failing:
        name = "failing-plugin"

        @hookimpl
        def on_batch_end(self, trainer, batch_idx, loss, skipped):
            if batch_idx == 2:
                raise RuntimeError("disk full")

        @hookimpl
        def on_exception(self, trainer, exception):
            raise ValueError("secondary failure must not hide the first")

    trainer = make_trainer(log, plugins=[Failing(), Recorder(log)])
    with pytest.raises(PluginHookError, match="plugin 'failing-plugin' failed in hook 'on_batch_end'.*disk full"):
        trainer.fit()
    assert log.events[-2:] == [("exception", "PluginHookError"), "teardown"]
    assert "fit_end" not in log.events


def _fit_plugins(trainer):
    from trainkit.trainer_inputs import per_fit_plugins

    return per_fit_plugins(trainer.plugins, trainer.default_plugins, trainer.run_dir is not None)


def test_default_plugins_depend_on_run_dir(tmp_path):
    trainer = make_trainer(default_plugins=True, max_steps=1)
    trainer.fit()
    names = {type(p).__name__ for p in _fit_plugins(trainer)}
    assert {"NaNGuard", "ProgressBar"} <= names and "TensorBoardLogger" not in names
    with_dir = make_trainer(default_plugins=True, run_dir=tmp_path)
    names = {type(p).__name__ for p in _fit_plugins(with_dir)}
    assert {"TensorBoardLogger", "Checkpointing", "NaNGuard", "ProgressBar"} <= names
    assert "EarlyStopping" not in names
    left_out = make_trainer(default_plugins=("progress",), run_dir=tmp_path)
    assert "ProgressBar" not in {type(p).__name__ for p in _fit_plugins(left_out)}


def test_device_auto_resolves_like_the_tutorials():
    trainer = make_trainer(device="auto")
    expected = "cuda:0" if trainkit.cuda_available() else "cpu"
    assert trainer.device == Device(expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accumulate": 0}, "accumulate must be >= 1"),
        ({"log_every": 1.5}, "log_every must be an int"),
        ({"max_steps": -1}, "max_steps must be >= 0"),
        ({"grad_transforms": [3]}, r"grad_transforms\[0\]"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_trainer(**kwargs)


def test_bad_scheduler_interval_is_rejected():
    with pytest.raises(ValueError, match="interval='batch'.*'epoch' or 'step'"):
        make_trainer(scheduler=LoggedScheduler(Log(), "s", interval="batch"))


def test_train_loss_is_logged_every_log_every_steps():
    log = Log()
    make_trainer(log, plugins=[Recorder(log)], log_every=3, max_epochs=2).fit()
    steps = [e[1] for e in log.events if isinstance(e, tuple) and e[0] == "log" and "train/loss" in e[2]]
    assert steps == [3, 4, 6, 8]  # every 3 steps, plus the flush at each epoch end (4 batches/epoch)
