"""load_dataset, the factory contract and the built-in dataset plugin."""
from __future__ import annotations

import inspect

import pytest

from trainkit.builtin_plugins import datasets as datasets_plugin
from trainkit.data import BUILTIN_DATASETS, DataFileNotFoundError, DataSplits, load_dataset

EXPECTED = {"spirals", "regression", "shapes", "mnist", "fashion_mnist", "cifar10", "digits", "npz"}


def test_plugin_registers_every_builtin():
    registered = {}
    datasets_plugin.register_datasets(register=lambda name, factory: registered.setdefault(name, factory))
    assert set(registered) == EXPECTED
    assert registered["spirals"] is BUILTIN_DATASETS["spirals"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_factories_take_keyword_arguments_with_defaults(name):
    params = inspect.signature(BUILTIN_DATASETS[name]).parameters.values()
    assert all(p.default is not inspect.Parameter.empty for p in params)


def test_load_dataset_unpacks_and_passes_kwargs():
    result = load_dataset("spirals", n_samples=100, val_fraction=0.1)
    assert isinstance(result, DataSplits)
    train, val = result
    assert (len(train), len(val)) == (90, 10)


def test_unknown_name_lists_available():
    with pytest.raises(KeyError, match=r"unknown dataset 'spiral' \(did you mean 'spirals'\?\); available: .*cifar10"):
        load_dataset("spiral")


def test_misspelt_argument_suggests_the_right_one():
    expected = r"unexpected argument 'n_sample' \(did you mean 'n_samples'\?\); accepted: n_samples"
    with pytest.raises(TypeError, match=expected):
        load_dataset("spirals", n_sample=10)


def test_file_datasets_without_files_fail_clearly(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="cifar.html"):
        load_dataset("cifar10", root=str(tmp_path))


def test_registry_through_the_plugin_manager():
    plugins = pytest.importorskip("trainkit.plugins")
    if not hasattr(plugins, "registry"):
        pytest.skip("trainkit.plugins has no registry() yet")
    registry = plugins.registry("datasets")
    assert EXPECTED <= set(registry)
