"""The README's "Writing a plugin" section documents every hook of hookspecs.py, correctly.

Each hook appears once as `name(arg, ...)` with the hookspec's argument names,
and the lifecycle hooks are listed in the order a real ``Trainer.fit()`` calls
them: a recording plugin captures every lifecycle call of a fit with
checkpoints, validation, a scheduler, a resume and an exception, and that
trace is checked against the README's list (``on_save_checkpoint``, which the
README documents as firing *during* ``on_epoch_end`` / ``on_step_end`` /
``on_fit_end``, is checked against the hook that was running when it fired).
"""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import trainkit
from trainkit import hookspecs, nn, optim
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.data import DataLoader, TensorDataset
from trainkit.optim.lr_scheduler import StepLR
from trainkit.trainer import LIFECYCLE_HOOKS, Trainer

README = Path(__file__).resolve().parents[1] / "README.md"
HOOK_REF = re.compile(r"`((?:register|on)_\w+)\(([^)`]*)\)`")
#: The hooks during which the README says a checkpoint is written.
SAVE_DURING = ("on_epoch_end", "on_step_end", "on_fit_end")


def plugin_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Writing a plugin\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, "README.md has no '## Writing a plugin' section followed by another section"
    return match.group(1)


def documented() -> list[tuple[str, list[str]]]:
    """(hook, argument names) for each list item that starts with a hook reference."""
    out = []
    for line in plugin_section().splitlines():
        item = re.match(r"^\s*- " + HOOK_REF.pattern, line)
        if item:
            args = [a.strip() for a in item.group(2).split(",") if a.strip()]
            out.append((item.group(1), args))
    return out


def documented_lifecycle_order() -> list[str]:
    """The lifecycle hooks in the order the README lists them (nested per-batch items included)."""
    return [name for name, _ in documented() if name in LIFECYCLE_HOOKS]


def spec_hooks() -> dict[str, list[str]]:
    """hook name -> argument names, for every function marked @hookspec."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, marker)
    }


def test_every_hookspec_is_documented_once_and_nothing_else():
    names = [name for name, _ in documented()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"documented more than once in README: {duplicates}"
    specs = spec_hooks()
    assert sorted(set(specs) - set(names)) == [], "hooks missing from README's 'Writing a plugin'"
    assert sorted(set(names) - set(specs)) == [], "README documents hooks that hookspecs.py does not define"


@pytest.mark.parametrize("hook", sorted(spec_hooks()))
def test_documented_arguments_match_the_hookspec(hook):
    args = dict(documented())[hook]
    assert args == spec_hooks()[hook], f"README: {hook}({', '.join(args)})"


def test_the_check_notices_a_wrong_argument(monkeypatch):
    # the comparison above can fail: a README with a renamed argument is caught
    broken = plugin_section().replace("on_batch_end(trainer, batch_idx, loss, skipped)",
                                      "on_batch_end(trainer, idx, loss, skipped)")
    monkeypatch.setattr(sys.modules[__name__], "plugin_section", lambda: broken)
    assert dict(documented())["on_batch_end"] != spec_hooks()["on_batch_end"]


# ---------------------------------------------------------------- the real call order


class Recorder:
    """Records every lifecycle hook call; ``on_save_checkpoint`` also records the hook it ran inside."""

    name = "recorder"

    def __init__(self, fail_at_step: int | None = None):
        self.calls: list[tuple[str, str | None]] = []
        self.fail_at_step = fail_at_step


def _recording(hook: str):
    """A hookimpl for ``hook`` with the hookspec's argument names (pluggy passes arguments by name)."""
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)

    def record(self, kwargs):
        inside = None
        if hook == "on_save_checkpoint":  # which lifecycle hook is running further up the stack?
            frame = sys._getframe(2)
            while frame is not None and inside is None:
                if frame.f_code.co_name in LIFECYCLE_HOOKS:
                    inside = frame.f_code.co_name
                frame = frame.f_back
        self.calls.append((hook, inside))
        if hook == "on_step_end" and kwargs["step"] == self.fail_at_step:
            raise RuntimeError("recorder: planned failure")

    args = ", ".join(params)
    impl = eval(f"lambda self, {args}: record(self, dict({', '.join(f'{p}={p}' for p in params)}))",
                {"record": record})
    impl.__name__ = hook
    return trainkit.hookimpl(impl)


for _hook in LIFECYCLE_HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def _fit(run_dir: Path, *, max_epochs: int, max_steps=None, resume=None, fail_at_step=None) -> Recorder:
    """A small regression fit: 3 batches per epoch, validation, StepLR, step and epoch checkpoints."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2)).astype(np.float32)
    data = TensorDataset(x, x[:, :1] * 2.0)
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder(fail_at_step)
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(data, batch_size=4), DataLoader(data, batch_size=12),
                      scheduler=StepLR(opt, step_size=1), max_epochs=max_epochs, max_steps=max_steps,
                      log_every=2, run_dir=run_dir, resume=resume, default_plugins=("tensorboard", "progress"),
                      plugins=[recorder, Checkpointing(every_n_steps=2, monitor="val/loss")])
    try:
        trainer.fit()
    except Exception:  # noqa: BLE001 - the failing fit is recorded, its exception is expected
        if fail_at_step is None:
            raise
    return recorder


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, list[tuple[str, str | None]]]:
    run = tmp_path_factory.mktemp("hooks") / "run"
    fresh = _fit(run, max_epochs=2).calls
    # stops at step 11, mid-epoch 3: a final validation, and on_fit_end saves the unsaved step
    resumed = _fit(run, max_epochs=4, max_steps=11, resume=run).calls
    failed = _fit(run.with_name("failed"), max_epochs=1, fail_at_step=2).calls
    return {"fresh": fresh, "resumed": resumed, "failed": failed}


def order_violations(trace: list[str], order: list[str]) -> list[str]:
    """Steps of ``trace`` that go against ``order`` (the README's list), as readable strings.

    Moving forward in the list is fine (hooks may be skipped: no resume, no
    log this step, ...). Going back is fine only where the README says the
    loop repeats: ``on_batch_start`` after ``on_batch_end`` (the next batch)
    and ``on_epoch_start`` after ``on_epoch_end`` (the next epoch). An
    ``on_log`` outside the step (the README: at the end of an epoch and after
    a validation, before ``on_epoch_end`` / ``on_fit_end``) is set aside first.
    """
    steps = []
    for i, hook in enumerate(trace):
        if hook == "on_log":
            rest = [h for h in trace[i + 1:] if h not in ("on_log", "on_validation_end")]
            if rest and rest[0] in ("on_epoch_end", "on_fit_end"):
                continue
        steps.append(hook)
    bad = []
    for a, b in zip(steps, steps[1:]):
        if b not in order or a not in order:
            bad.append(f"{a} -> {b}: not in the README's list")
        elif order.index(b) > order.index(a):
            continue
        elif (a, b) not in (("on_batch_end", "on_batch_start"), ("on_epoch_end", "on_epoch_start")):
            bad.append(f"{a} -> {b}")
    return bad


@pytest.mark.parametrize("run", ["fresh", "resumed", "failed"])
def test_a_real_fit_calls_the_hooks_in_the_readme_order(traces, run):
    calls = [hook for hook, _ in traces[run] if hook != "on_save_checkpoint"]
    assert order_violations(calls, documented_lifecycle_order()) == [], calls


def test_the_fits_exercise_every_lifecycle_hook(traces):
    called = {hook for trace in traces.values() for hook, _ in trace}
    assert called == set(LIFECYCLE_HOOKS)
    assert traces["resumed"][0][0] == "on_load_checkpoint"
    assert [h for h, _ in traces["failed"][-2:]] == ["on_exception", "on_teardown"]


def test_checkpoints_are_written_during_the_hooks_the_readme_names(traces):
    section = plugin_section()
    item = re.search(r"^\s*- `on_save_checkpoint\(.*$", section, flags=re.M).group(0)
    for hook in SAVE_DURING:
        assert f"`{hook}`" in item, f"README's on_save_checkpoint item does not mention {hook}"
    inside = [where for trace in traces.values() for hook, where in trace if hook == "on_save_checkpoint"]
    assert set(inside) == set(SAVE_DURING), inside


def test_the_order_check_notices_a_swapped_readme_list():
    # the check can fail: the README's order with two per-batch hooks swapped is caught
    order = documented_lifecycle_order()
    i, j = order.index("on_after_backward"), order.index("on_before_optimizer_step")
    order[i], order[j] = order[j], order[i]
    trace = ["on_fit_start", "on_epoch_start", "on_batch_start", "on_train_loss", "on_after_backward",
             "on_before_optimizer_step", "on_after_optimizer_step", "on_step_end", "on_batch_end",
             "on_epoch_end", "on_fit_end", "on_teardown"]
    assert order_violations(trace, documented_lifecycle_order()) == []
    assert order_violations(trace, order) == ["on_after_backward -> on_before_optimizer_step"]
