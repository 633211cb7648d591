"""The plugin manager: hook specs, registries, entry-point loading, error attribution."""
from __future__ import annotations

import importlib
import inspect
import sys
import textwrap

import pluggy
import pytest

import trainkit
from trainkit import hookspecs
from trainkit.plugins.manager import load_builtins as _load_builtins
from trainkit.plugins import (
    DEFAULT_PLUGINS,
    DuplicateNameError,
    HookDispatcher,
    PluginHookError,
    PluginLoadError,
    PluginLoadWarning,
    TrainingAbort,
    TrainkitPluginManager,

    UnknownNameError,
    call_hook,
    get_plugin_manager,
    plugin_info,
    registered,
    registry,
    reset_plugin_manager,
)


@pytest.fixture
def fresh_pm():
    """A freshly loaded global plugin manager, forgotten again after the test."""
    reset_plugin_manager()
    yield get_plugin_manager()
    reset_plugin_manager()


def _spec_functions():
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and (name.startswith("on_") or name.startswith("register_"))
    }


# --------------------------------------------------------------------------- hookspecs
def test_every_hook_is_in_one_phase_and_documented():
    specs = _spec_functions()
    phased = [name for names in hookspecs.PHASES.values() for name in names]
    assert sorted(phased) == sorted(specs), "PHASES must list every hook exactly once"
    assert len(phased) == len(set(phased))
    for name, fn in specs.items():
        doc = inspect.getdoc(fn) or ""
        assert "called" in doc.lower(), f"{name}: docstring must say when it is called"
        assert "Returns:" in doc, f"{name}: docstring must say what a return value means"
        for arg in inspect.signature(fn).parameters:
            assert f"{arg}:" in doc, f"{name}: argument {arg!r} is not documented"
            assert fn.__annotations__.get(arg), f"{name}: argument {arg!r} is not typed"


def test_lifecycle_hooks_take_trainer_first_and_registration_hooks_a_register_callback():
    for name, fn in _spec_functions().items():
        params = list(inspect.signature(fn).parameters)
        expected = "register" if name.startswith("register_") else "trainer"
        assert params[0] == expected, name


def test_firstresult_is_declared_on_the_loss_check_only():
    pm = TrainkitPluginManager()
    first = {name for name in _spec_functions() if getattr(pm.hook, name).spec.opts.get("firstresult")}
    assert first == {"on_train_loss"}


def test_hookimpl_is_exported_from_the_package():
    assert trainkit.hookimpl is hookspecs.hookimpl


# --------------------------------------------------------------------------- built-ins
def test_default_plugins_are_loaded_through_the_manager(fresh_pm):
    names = {name for name, _ in fresh_pm.list_name_plugin()}
    assert {f"trainkit.{m}" for m in DEFAULT_PLUGINS} <= names


def test_a_missing_builtin_is_an_error(monkeypatch):
    monkeypatch.setattr("trainkit.plugins.manager.DEFAULT_PLUGINS", (*DEFAULT_PLUGINS, "no_such_feature"))
    with pytest.raises(PluginLoadError, match="trainkit.builtin_plugins.no_such_feature failed to import"):
        _load_builtins(TrainkitPluginManager())


def test_builtin_lifecycle_plugins_are_in_the_callback_registry(fresh_pm):
    callbacks = registry("callbacks")
    assert {"tensorboard", "progress", "checkpointing", "early_stopping", "nan_guard"} <= set(callbacks)
    assert callbacks.provider("nan_guard") == "trainkit.nan_guard"


def test_importing_trainkit_and_the_manager_does_not_import_tensorboardx():
    import subprocess

    code = (
        "import sys, trainkit.plugins as p; p.get_plugin_manager(); import trainkit.trainer;"
        "print('tensorboardX' in sys.modules, 'tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- registries
class _Lion:
    pass


class _OtherLion:
    pass


def _registering_plugin(kind, **items):
    hook = f"register_{kind}"
    namespace = {}

    def impl(register):
        for name, obj in items.items():
            register(name, obj)

    impl.__name__ = hook
    namespace[hook] = hookspecs.hookimpl(impl)
    return type("P", (), {hook: staticmethod(namespace[hook])})()


def test_registry_maps_names_to_objects_and_providers():
    pm = TrainkitPluginManager()
    pm.register(_registering_plugin("optimizers", lion=_Lion), name="lion-plugin")
    reg = registry("optimizers", pm)
    assert reg["lion"] is _Lion and reg.get("lion") is _Lion
    assert reg.provider("lion") == "lion-plugin"
    assert "lion" in reg and list(reg) == ["lion"] and len(reg) == 1
    assert registry("optimizers", pm) is reg  # cached


def test_unknown_name_lists_available_names_with_their_providers_and_suggests():
    pm = TrainkitPluginManager()
    pm.register(_registering_plugin("optimizers", lion=_Lion, adam=_OtherLion), name="mine")
    with pytest.raises(UnknownNameError) as info:
        registry("optimizers", pm).get("lino")
    text = str(info.value)
    assert "unknown optimizer 'lino'" in text
    assert "adam (mine)" in text and "lion (mine)" in text
    assert "Did you mean 'lion'" in text
    with pytest.raises(KeyError):  # a Mapping still raises KeyError
        registry("optimizers", pm)["nope"]


def test_duplicate_name_is_an_error_naming_both_plugins():
    pm = TrainkitPluginManager()
    pm.register(_registering_plugin("optimizers", lion=_Lion), name="first-plugin")
    pm.register(_registering_plugin("optimizers", lion=_OtherLion), name="second-plugin")
    with pytest.raises(DuplicateNameError, match="first-plugin.*second-plugin|second-plugin.*first-plugin"):
        registry("optimizers", pm)


def test_registering_a_plugin_invalidates_the_cached_registry():
    pm = TrainkitPluginManager()
    assert list(registry("losses", pm)) == []
    plugin = _registering_plugin("losses", huber=_Lion)
    pm.register(plugin, name="late")
    assert list(registry("losses", pm)) == ["huber"]
    pm.unregister(plugin)
    assert list(registry("losses", pm)) == []


def test_unknown_registry_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown registry kind 'optimiser'.*optimizers"):
        registry("optimiser", TrainkitPluginManager())


class _BrokenRegistration:
    """Registers one optimizer, then fails in register_models."""

    @hookspecs.hookimpl
    def register_optimizers(self, register):
        register("tk_half_registered", object)

    @hookspecs.hookimpl
    def register_models(self, register):
        register("tk_partial_model", object)
        raise RuntimeError("boom")


def test_a_failing_builtin_registration_hook_names_the_plugin():
    pm = TrainkitPluginManager()
    pm.register(_BrokenRegistration(), name="trainkit.broken")
    with pytest.raises(PluginHookError, match="plugin 'trainkit.broken' failed in hook 'register_models'.*boom"):
        registry("models", pm)


def test_a_third_party_failing_registration_hook_is_skipped_with_a_warning(monkeypatch):
    monkeypatch.delenv("TRAINKIT_STRICT_PLUGINS", raising=False)
    pm = TrainkitPluginManager()
    _load_builtins(pm)
    pm.register(_BrokenRegistration(), name="broken-models")
    assert "tk_half_registered" in registry("optimizers", pm)
    with pytest.warns(PluginLoadWarning, match="'broken-models' from no distribution.*register_models.*boom"):
        models = registry("models", pm)
    assert "tk_partial_model" not in models and "mlp" in models  # the built-ins still work
    assert not pm.has_plugin("broken-models")
    assert "tk_half_registered" not in registry("optimizers", pm)  # its other registrations are gone too
    (failure,) = pm.failures
    assert "broken-models" in failure and "\n" not in failure


def test_strict_mode_makes_a_failing_registration_hook_fatal(monkeypatch):
    monkeypatch.setenv("TRAINKIT_STRICT_PLUGINS", "1")
    pm = TrainkitPluginManager()
    pm.register(_BrokenRegistration(), name="broken-models")
    with pytest.raises(PluginLoadError, match="broken-models.*register_models.*boom.*TRAINKIT_STRICT_PLUGINS"):
        registry("models", pm)


# --------------------------------------------------------------------------- hook calls
class _Recorder:
    def __init__(self, tag, log):
        self.tag, self.log = tag, log

    @hookspecs.hookimpl
    def on_epoch_start(self, trainer, epoch):
        self.log.append((self.tag, epoch))


class _Exploding:
    @hookspecs.hookimpl
    def on_epoch_start(self, trainer, epoch):
        raise ZeroDivisionError("bad epoch")

    @hookspecs.hookimpl
    def on_teardown(self, trainer):
        raise ValueError("bad teardown")


def test_hook_exception_names_plugin_and_hook():
    pm = TrainkitPluginManager()
    log = []
    pm.register(_Recorder("a", log), name="recorder")
    pm.register(_Exploding(), name="exploder")
    with pytest.raises(PluginHookError) as info:
        call_hook("on_epoch_start", pm, trainer=None, epoch=3)
    err = info.value
    assert (err.plugin, err.hook) == ("exploder", "on_epoch_start")
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert "plugin 'exploder' failed in hook 'on_epoch_start': ZeroDivisionError: bad epoch" in str(err)
    dispatch = HookDispatcher(pm, ["on_epoch_start"])
    with pytest.raises(PluginHookError, match="exploder"):
        dispatch("on_epoch_start", trainer=None, epoch=3)


def test_training_abort_passes_through_unwrapped():
    class Stopper:
        @hookspecs.hookimpl
        def on_epoch_start(self, trainer, epoch):
            raise TrainingAbort("stop here")

    pm = TrainkitPluginManager()
    pm.register(Stopper())
    with pytest.raises(TrainingAbort, match="^stop here$"):
        HookDispatcher(pm, ["on_epoch_start"])("on_epoch_start", trainer=None, epoch=0)


def test_call_all_runs_every_implementation_despite_failures(caplog):
    pm = TrainkitPluginManager()
    seen = []

    class Quiet:
        @hookspecs.hookimpl
        def on_teardown(self, trainer):
            seen.append("quiet")

    pm.register(Quiet(), name="quiet")
    pm.register(_Exploding(), name="exploder")
    pm.register(Quiet(), name="quiet2")
    failures = HookDispatcher(pm, ["on_teardown"]).call_all("on_teardown", trainer=None)
    assert seen == ["quiet", "quiet"]
    assert [f.plugin for f in failures] == ["exploder"]
    assert "exploder" in caplog.text


def test_firstresult_hook_returns_the_first_non_none_result():
    class Abstain:
        @hookspecs.hookimpl
        def on_train_loss(self, trainer, batch_idx, loss):
            return None

    class Veto:
        @hookspecs.hookimpl
        def on_train_loss(self, trainer, batch_idx, loss):
            return False

    pm = TrainkitPluginManager()
    dispatch = HookDispatcher(pm, ["on_train_loss"])
    assert dispatch("on_train_loss", trainer=None, batch_idx=0, loss=1.0) is None
    pm.register(Veto())
    pm.register(Abstain())
    assert HookDispatcher(pm, ["on_train_loss"])("on_train_loss", trainer=None, batch_idx=0, loss=1.0) is False
    assert call_hook("on_train_loss", pm, trainer=None, batch_idx=0, loss=1.0) is False


def test_registered_registers_for_the_block_only_and_rejects_misspelled_hooks():
    pm = TrainkitPluginManager()
    log = []
    rec = _Recorder("r", log)
    with registered([rec], pm) as names:
        assert names == ["_Recorder"] and pm.is_registered(rec)
    assert not pm.is_registered(rec)

    class Misspelled:
        @hookspecs.hookimpl
        def on_epoch_ends(self, trainer, epoch, metrics):
            pass

    with pytest.raises(PluginLoadError, match="Misspelled.*on_epoch_ends"):
        with registered([Misspelled()], pm):
            pass
    assert pm.list_name_plugin() == []


# --------------------------------------------------------------------------- entry points
def _fake_distribution(root, dist_name, module, body, ep_name=None, version="1.2.3"):
    """An installed-looking distribution on sys.path: a module plus its .dist-info."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[trainkit]\n{ep_name or module} = {module}\n")


GOOD_PLUGIN = """
    import trainkit

    class Lion:
        pass

    @trainkit.hookimpl
    def register_optimizers(register):
        register("tk_test_lion", Lion)

    @trainkit.hookimpl
    def on_fit_start(trainer):
        pass
"""


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TRAINKIT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("TRAINKIT_LOAD_PLUGINS", raising=False)
    reset_plugin_manager()
    yield tmp_path
    reset_plugin_manager()
    for mod in [m for m in sys.modules if m.startswith("tk_test_")]:
        del sys.modules[mod]
    importlib.invalidate_caches()


def test_entry_point_plugin_is_loaded_and_described(plugin_path):
    _fake_distribution(plugin_path, "tk-test-lion", "tk_test_lion", GOOD_PLUGIN, ep_name="lion")
    pm = get_plugin_manager()
    assert registry("optimizers")["tk_test_lion"].__name__ == "Lion"
    assert registry("optimizers").provider("tk_test_lion") == "lion"
    info = {i.name: i for i in plugin_info(pm)}["lion"]
    assert (info.version, info.distribution, info.builtin) == ("1.2.3", "tk-test-lion", False)
    assert info.registered == {"optimizers": ["tk_test_lion"]}
    assert info.hooks == ["on_fit_start", "register_optimizers"]
    builtin = {i.name: i for i in plugin_info(pm)}["trainkit.nan_guard"]
    assert builtin.distribution == "trainkit" and builtin.version == trainkit.__version__


def test_broken_entry_point_is_a_warning_naming_plugin_and_distribution(plugin_path):
    _fake_distribution(plugin_path, "tk-test-broken", "tk_test_broken", "raise ImportError('no lib')\n")
    _fake_distribution(plugin_path, "tk-test-lion", "tk_test_lion", GOOD_PLUGIN)
    with pytest.warns(PluginLoadWarning, match=r"'tk_test_broken' from distribution tk-test-broken 1\.2\.3.*no lib"):
        pm = get_plugin_manager()
    assert pm.has_plugin("tk_test_lion") and not pm.has_plugin("tk_test_broken")


def test_strict_mode_makes_a_broken_plugin_fatal(plugin_path, monkeypatch):
    _fake_distribution(plugin_path, "tk-test-broken", "tk_test_broken", "raise ImportError('no lib')\n")
    monkeypatch.setenv("TRAINKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="tk_test_broken.*tk-test-broken.*TRAINKIT_STRICT_PLUGINS"):
        get_plugin_manager()


def test_misspelled_hook_in_an_entry_point_fails_check_pending(plugin_path):
    body = """
        import trainkit

        @trainkit.hookimpl
        def register_optimisers(register):
            pass
    """
    _fake_distribution(plugin_path, "tk-test-typo", "tk_test_typo", body)
    with pytest.warns(PluginLoadWarning, match="tk_test_typo.*register_optimisers"):
        pm = get_plugin_manager()
    assert not pm.has_plugin("tk_test_typo")


def test_load_plugins_env_restricts_which_entry_points_load(plugin_path, monkeypatch):
    _fake_distribution(plugin_path, "tk-test-lion", "tk_test_lion", GOOD_PLUGIN)
    _fake_distribution(plugin_path, "tk-test-broken", "tk_test_broken", "raise ImportError('no lib')\n")
    monkeypatch.setenv("TRAINKIT_LOAD_PLUGINS", "tk_test_lion")
    pm = get_plugin_manager()  # no warning: the broken one is never imported
    assert pm.has_plugin("tk_test_lion") and not pm.has_plugin("tk_test_broken")
    assert "tk_test_broken" not in sys.modules
    monkeypatch.setenv("TRAINKIT_LOAD_PLUGINS", "")
    reset_plugin_manager()
    assert not get_plugin_manager().has_plugin("tk_test_lion")


def test_manager_is_a_pluggy_manager_for_project_trainkit(fresh_pm):
    assert isinstance(fresh_pm, pluggy.PluginManager)
    assert fresh_pm.project_name == "trainkit"
    assert get_plugin_manager() is fresh_pm


FAILING_REGISTRATION = """
    import trainkit

    @trainkit.hookimpl
    def register_optimizers(register):
        raise RuntimeError("cannot find libfoo")
"""


def test_entry_point_failing_in_its_registration_hook_names_its_distribution(plugin_path):
    _fake_distribution(plugin_path, "tk-test-regfail", "tk_test_regfail", FAILING_REGISTRATION)
    pm = get_plugin_manager()
    with pytest.warns(PluginLoadWarning, match=r"'tk_test_regfail' from distribution tk-test-regfail 1\.2\.3"
                                               r".*register_optimizers.*libfoo"):
        optimizers = registry("optimizers")
    assert "adam" in optimizers and not pm.has_plugin("tk_test_regfail")


def test_plugins_command_prints_a_failing_plugin_as_one_line(plugin_path, capsys):
    from trainkit.cli import main

    _fake_distribution(plugin_path, "tk-test-regfail", "tk_test_regfail", FAILING_REGISTRATION)
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in (out + err).splitlines() if "tk_test_regfail" in ln]
    assert len(lines) == 1, out + err
    assert "tk-test-regfail" in lines[0] and "libfoo" in lines[0]
    assert "Traceback" not in out + err and "warnings.warn" not in out + err
    assert "trainkit.optimizers" in out  # the listing itself is still printed
