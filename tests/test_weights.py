"""Pretrained weights in and out (trainkit.weights): safetensors with torch's names, key maps, bad files.

Round trips with PyTorch run twice: against committed fixtures made by torch
(``tests/fixtures/weights/make_weights_fixtures.py``), so they run without
torch, and live (``@pytest.mark.torch``) with fresh torch weights.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import trainkit
from trainkit import checkpoint as ckpt
from trainkit import nn
from trainkit.models import CNN, MLP
from trainkit.nn.module import StateDictMismatchError
from trainkit.weights import (
    KeyMapError,
    WeightsConversionWarning,
    WeightsFileError,
    apply_key_map,
    export_checkpoint,
    load_into,
    mapping_table,
    plan,
    read_safetensors_header,
    read_weights,
    save_safetensors,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "weights")
REFERENCE = np.load(os.path.join(FIXTURES, "reference.npz"), allow_pickle=False)
CASES = ["mlp", "cnn", "embed_bn"]


class EmbedBN(nn.Module):
    """Embedding -> BatchNorm1d (running-stat buffers) -> Linear; torch twin in the fixture script."""

    def __init__(self, vocab=11, dim=4, seq=5, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.BatchNorm1d(dim)
        self.head = nn.Linear(dim * seq, classes)

    def forward(self, x):
        return self.head(self.norm(self.embed(x).permute(0, 2, 1)).flatten(1))


TWINS = {
    "mlp": lambda: MLP(6, 3, hidden_sizes=(8,)),
    "cnn": lambda: CNN(3, 4, image_size=8, channels=(4, 4), kernel_size=3, hidden=8),
    "embed_bn": EmbedBN,
}


def fixture(name: str) -> str:
    return os.path.join(FIXTURES, name)


def forward(model, x) -> np.ndarray:
    model.eval()
    with trainkit.no_grad():
        return model(trainkit.tensor(x)).data


def snapshot(model) -> dict:
    return {k: np.array(v) for k, v in model.state_dict().items()}


def assert_unchanged(model, before: dict) -> None:
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed")


# --------------------------------------------------------------------------- torch files -> trainkit
@pytest.mark.parametrize("name", CASES)
def test_torch_safetensors_loads_and_gives_torch_output(name):
    model = TWINS[name]()
    report = load_into(model, fixture(f"{name}.safetensors"))
    assert set(report["loaded"]) == set(model.state_dict())
    assert not any(report[k] for k in ("missing", "unexpected", "wrong_shape", "converted"))
    np.testing.assert_allclose(forward(model, REFERENCE[f"{name}/x"]), REFERENCE[f"{name}/out"], rtol=1e-5, atol=1e-6)


def test_batchnorm_buffers_come_from_the_file():
    model = EmbedBN()
    load_into(model, fixture("embed_bn.safetensors"))
    file = read_weights(fixture("embed_bn.safetensors"))
    assert int(model.norm.num_batches_tracked) == int(file["norm.num_batches_tracked"]) == 3
    np.testing.assert_array_equal(model.norm.running_var, file["norm.running_var"])


@pytest.mark.parametrize("suffix, dtype", [("f16", "float16"), ("bf16", "bfloat16")])
def test_half_precision_files_load_into_float32_with_a_note(suffix, dtype):
    model = TWINS["mlp"]()
    with pytest.warns(WeightsConversionWarning, match=f"layers.0.weight \\({dtype} -> float32\\)"):
        report = load_into(model, fixture(f"mlp_{suffix}.safetensors"))
    assert len(report["converted"]) == 4
    assert model.layers[0].weight.dtype == np.float32
    np.testing.assert_allclose(
        forward(model, REFERENCE[f"mlp_{suffix}/x"]), REFERENCE[f"mlp_{suffix}/out"], rtol=1e-5, atol=1e-6
    )


# --------------------------------------------------------------------------- trainkit -> torch files
@pytest.mark.parametrize("name", CASES)
def test_export_matches_what_torch_writes(name, tmp_path):
    """Same names, shapes, dtypes and bytes as torch's own file: what load_state_dict(strict=True) needs."""
    model = TWINS[name]()
    load_into(model, fixture(f"{name}.safetensors"))
    out = save_safetensors(model.state_dict(), tmp_path / "out.safetensors")
    ours, torchs = read_safetensors_header(out), read_safetensors_header(fixture(f"{name}.safetensors"))
    assert {k: (v["dtype"], v["shape"]) for k, v in ours.items()} == {
        k: (v["dtype"], v["shape"]) for k, v in torchs.items()
    }
    theirs = read_weights(fixture(f"{name}.safetensors"))
    for k, v in read_weights(out).items():
        np.testing.assert_array_equal(v, theirs[k], err_msg=k)


def test_save_safetensors_is_atomic_and_marks_the_format(tmp_path):
    out = tmp_path / "sub" / "w.safetensors"
    trainkit.save_safetensors({"w": trainkit.ones(2, 3), "b": np.arange(3)[::2]}, out, metadata={"note": "x"})
    assert sorted(os.listdir(out.parent)) == ["w.safetensors"]  # no temporary file left behind
    raw = out.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert header["__metadata__"] == {"format": "pt", "note": "x"}
    np.testing.assert_array_equal(read_weights(out)["b"], [0, 2])


def test_export_checkpoint_model_and_ema(tmp_path):
    model = TWINS["mlp"]()
    ema = {k: v + 1 for k, v in snapshot(model).items()}
    plain = ckpt.save(tmp_path / "plain.npz", {"model": snapshot(model), "plugins": {}})
    with_ema = ckpt.save(tmp_path / "ema.npz", {"model": snapshot(model), "plugins": {"ema": {"model": ema}}})
    exported = read_weights(export_checkpoint(plain, tmp_path / "model.safetensors"))
    for k, v in snapshot(model).items():
        np.testing.assert_array_equal(exported[k], v)
    exported = read_weights(export_checkpoint(with_ema, tmp_path / "ema.safetensors", ema=True))
    for k, v in ema.items():
        np.testing.assert_array_equal(exported[k], v)
    with pytest.raises(WeightsFileError, match="plain.npz holds no EMA weights"):
        export_checkpoint(plain, tmp_path / "x.safetensors", ema=True)
    assert not (tmp_path / "x.safetensors").exists()


# --------------------------------------------------------------------------- key maps
@pytest.fixture
def prefixed(tmp_path):
    """The MLP fixture as a DDP checkpoint: every name under ``module.``."""
    weights = read_weights(fixture("mlp.safetensors"))
    return save_safetensors({f"module.{k}": v for k, v in weights.items()}, tmp_path / "ddp.safetensors")


def test_names_that_match_nothing_list_the_closest_and_load_nothing(prefixed):
    model = TWINS["mlp"]()
    before = snapshot(model)
    with pytest.raises(StateDictMismatchError) as info:
        load_into(model, prefixed)
    message = str(info.value)
    assert str(prefixed) in message and "nothing was loaded" in message
    assert "layers.0.weight (closest in file: module.layers.0.weight" in message
    assert "init_map={'module.': ''}" in message
    assert info.value.missing_keys == list(model.state_dict())
    assert_unchanged(model, before)


def test_key_map_strips_the_ddp_prefix(prefixed):
    model = TWINS["mlp"]()
    load_into(model, prefixed, key_map={"module.": ""})
    np.testing.assert_allclose(forward(model, REFERENCE["mlp/x"]), REFERENCE["mlp/out"], rtol=1e-5, atol=1e-6)


def test_apply_key_map_rules():
    names = ["model.fc.weight", "model.fc.bias", "model.body.0.gamma", "model.aux.weight"]
    rules = [("model.", ""), ("fc.", "classifier.1."), (r"re:(.*)\.gamma", r"\1.weight"), ("re:aux\\..*", None)]
    assert apply_key_map(names, rules) == {
        "model.fc.weight": "classifier.1.weight",
        "model.fc.bias": "classifier.1.bias",
        "model.body.0.gamma": "body.0.weight",
        "model.aux.weight": None,
    }
    arrays = {n: np.zeros(1) for n in names}
    assert list(apply_key_map(arrays, [{"model.": ""}, {"re:aux.*": None}])) == ["fc.weight", "fc.bias", "body.0.gamma"]
    assert apply_key_map(names, None) == {n: n for n in names}


@pytest.mark.parametrize("rules, match", [
    ({"model.": "", "fc.": "head."}, "both 'model.fc.w' and 'model.head.w' to 'head.w'"),
    ({"re:model\\.(fc|head)\\..*": "head.w"}, "both 'model.fc.w' and 'model.head.w' to 'head.w'"),
    ({"modle.": ""}, "'modle.' matches no name in the file. Closest names: model.fc.w"),
    ({"model.*": ""}, "plain patterns are prefixes, not globs"),
    ({"model.fc.w": ""}, "to an empty name"),
    ({"re:(": "x"}, "invalid regular expression"),
    ([("a", "b", "c")], "not one pattern -> replacement pair"),
])
def test_bad_key_maps_are_errors(rules, match):
    with pytest.raises(KeyMapError, match=re.escape(match)):
        apply_key_map(["model.fc.w", "model.head.w"], rules)


def test_mapping_table_is_the_dry_run(tmp_path):
    model = TWINS["mlp"]()
    weights = read_weights(fixture("mlp.safetensors"))
    weights["layers.2.weight"] = np.zeros((5, 8), np.float32)  # a head with 5 classes
    weights["layers.0.bias"] = weights["layers.0.bias"].astype(np.float64)
    weights["extra.scale"] = np.ones(2, np.float32)
    del weights["layers.2.bias"]
    path = save_safetensors(weights, tmp_path / "w.safetensors")
    table = plan(model, path)
    status = {r.file_name: r.detail() for r in table.rows}
    assert status == {
        "layers.0.weight": "loaded",
        "layers.0.bias": "converted float64 -> float32",
        "layers.2.weight": "wrong shape: file (5, 8), model (3, 8)",
        "extra.scale": "unexpected",
    }
    assert list(table.missing) == ["layers.2.bias"]
    text = str(table)
    assert "layers.2.weight -> layers.2.weight  (5, 8)  wrong shape: file (5, 8), model (3, 8)" in text
    assert "-               -> layers.2.bias" in text
    assert text.endswith("2 loaded (1 converted), 1 unexpected, 1 wrong shape, 0 dropped, 1 missing")
    assert mapping_table(weights, model.state_dict()).report() == table.report()


def test_non_strict_loads_the_usable_keys_and_warns(tmp_path):
    model = TWINS["mlp"]()
    weights = read_weights(fixture("mlp.safetensors"))
    weights["layers.2.weight"] = np.zeros((5, 8), np.float32)
    path = save_safetensors(weights, tmp_path / "w.safetensors")
    head = np.array(model.layers[2].weight)
    wrong = "wrong_shape: layers.2.weight (file (5, 8), model (3, 8))"
    with pytest.raises(StateDictMismatchError, match=re.escape(wrong)):
        load_into(model, path)
    with pytest.warns(trainkit.checkpoint.CheckpointWarning, match="skipped keys \\(wrong_shape: layers.2.weight"):
        report = load_into(model, path, strict=False)
    assert report["wrong_shape"] == ["layers.2.weight (file (5, 8), model (3, 8))"]
    np.testing.assert_array_equal(model.layers[2].weight, head)
    np.testing.assert_array_equal(model.layers[0].weight, weights["layers.0.weight"])


def test_state_dict_source_and_npz_files_still_load(tmp_path):
    source = TWINS["mlp"]()
    for target in (tmp_path / "plain.npz", tmp_path / "ckpt.npz"):
        if target.name == "plain.npz":
            np.savez(target, **snapshot(source))
        else:
            ckpt.save(target, {"model": snapshot(source)})
        model = TWINS["mlp"]()
        load_into(model, target)
        assert_unchanged(model, snapshot(source))
    model = TWINS["mlp"]()
    load_into(model, source.state_dict())
    assert_unchanged(model, snapshot(source))


# --------------------------------------------------------------------------- bad files
def _header_file(tmp_path, header: dict, data: bytes, name="lie.safetensors"):
    raw = json.dumps(header).encode()
    path = tmp_path / name
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


@pytest.mark.parametrize("header, match", [
    ({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 32]}},
     "'w' has data_offsets \\[0, 32\\] outside the 16-byte data section"),
    ({"w": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 16]}},
     "'w' is F32 \\(3, 2\\) = 24 bytes but its data_offsets span 16"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, "'b' starts at byte 4 .* after 'a' ends at 8"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
     "the tensors cover 8 bytes but the data section has 16"),
    ({"w": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}}, "'w' has dtype 'Q4', which trainkit cannot read"),
    ({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, "'w' has an invalid shape"),
    ({"w": {"dtype": "F32", "shape": [4]}}, "'w' lacks dtype, shape or data_offsets"),
    (["not", "a", "dict"], "not a JSON object"),
])
def test_a_header_that_lies_is_refused_naming_file_and_tensor(tmp_path, header, match):
    path = _header_file(tmp_path, header, bytes(16))
    model = TWINS["mlp"]()
    before = snapshot(model)
    with pytest.raises(WeightsFileError, match=match) as info:
        load_into(model, path)
    assert str(path) in str(info.value)
    assert_unchanged(model, before)


@pytest.mark.parametrize("keep", [4, 20, 300])
def test_a_truncated_file_is_refused(tmp_path, keep):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(Path(fixture("mlp.safetensors")).read_bytes()[:keep])
    with pytest.raises(WeightsFileError, match="truncated") as info:
        read_weights(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["noise.safetensors", "noise.dat", "header.json"])
def test_random_bytes_and_other_files_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b'{"a": 1}' if name.endswith(".json") else np.random.default_rng(0).bytes(256))
    with pytest.raises(WeightsFileError) as info:
        read_weights(path)
    assert str(path) in str(info.value)
    if not name.endswith(".safetensors"):
        assert "expected a trainkit checkpoint, a plain .npz state dict" in str(info.value)


def test_a_truncated_npz_is_a_weights_file_error(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(100))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(WeightsFileError, match="w.npz is truncated or corrupted"):
        read_weights(path)


@pytest.mark.parametrize("name, renamed", [
    ("mlp.pt", None), ("mlp_legacy.pt", None), ("mlp.pt", "model.npz"), ("mlp_legacy.pt", "model.safetensors"),
])
def test_torch_pickles_are_refused_with_the_conversion(tmp_path, name, renamed):
    path = fixture(name)
    if renamed:
        path = shutil.copy(path, tmp_path / renamed)
    with pytest.raises(WeightsFileError) as info:
        read_weights(path)
    message = str(info.value)
    assert str(path) in message and "never unpickles" in message
    assert f"st.save_file(torch.load('{path}', weights_only=True)" in message


class _Payload:
    """Unpickling this creates ``path``: stands for any code a malicious pickle would run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["raw.pt", "torch_zip.pth", "raw.bin"])
def test_a_malicious_pickle_is_not_executed(tmp_path, kind):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control))).close()
    assert control.exists(), "the payload must be live for this test to mean anything"
    sentinel = tmp_path / "executed"
    payload = pickle.dumps(_Payload(sentinel), protocol=0 if kind == "raw.bin" else 2)
    path = tmp_path / kind
    if kind.startswith("torch_zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
    else:
        path.write_bytes(payload)
    with pytest.raises(WeightsFileError, match="never unpickles"):
        load_into(TWINS["mlp"](), path)
    assert not sentinel.exists()


def test_missing_optional_packages_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    with pytest.raises(WeightsFileError, match="'layers.0.bias' is bfloat16.*pip install 'trainkit\\[safetensors\\]'"):
        read_weights(fixture("mlp_bf16.safetensors"))
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(WeightsFileError, match="mlp.safetensors needs the safetensors package: pip install"):
        read_weights(fixture("mlp.safetensors"))
    with pytest.raises(WeightsFileError, match="writing .*out.safetensors needs the safetensors package"):
        save_safetensors({"w": np.ones(2)}, tmp_path / "out.safetensors")


def test_import_trainkit_weights_does_not_import_safetensors():
    code = "import sys, trainkit, trainkit.weights; trainkit.save_safetensors; print('safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- live torch
@pytest.fixture
def twins(torch):
    spec = importlib.util.spec_from_file_location("make_weights_fixtures", fixture("make_weights_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
@pytest.mark.parametrize("name", CASES)
def test_live_torch_to_trainkit(name, twins, tmp_path):
    from safetensors.torch import save_file

    model, x = twins.build(name, seed=7)
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    ours = TWINS[name]()
    load_into(ours, tmp_path / "w.safetensors")
    np.testing.assert_allclose(forward(ours, x), twins.forward(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("name", CASES)
def test_live_trainkit_to_torch_strict(name, twins, tmp_path):
    from safetensors.torch import load_file

    trainkit.manual_seed(3)
    ours = TWINS[name]()
    _, x = twins.build(name, seed=3)
    if name == "embed_bn":  # non-trivial running statistics and num_batches_tracked
        ours.train()
        for _ in range(2):
            ours(trainkit.tensor(x))
    save_safetensors(ours.state_dict(), tmp_path / "w.safetensors")
    theirs = {"mlp": twins.MLP, "cnn": twins.CNN, "embed_bn": twins.EmbedBN}[name]()
    result = theirs.load_state_dict(load_file(tmp_path / "w.safetensors"), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    np.testing.assert_allclose(twins.forward(theirs.eval(), x), forward(ours, x), rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_live_bfloat16_and_torch_save(twins, torch, tmp_path):
    from safetensors.torch import save_file

    model, x = twins.build("mlp", seed=5)
    save_file({k: v.bfloat16() for k, v in model.state_dict().items()}, tmp_path / "w.safetensors")
    model.load_state_dict({k: v.bfloat16().float() for k, v in model.state_dict().items()})
    ours = TWINS["mlp"]()
    with pytest.warns(WeightsConversionWarning):
        load_into(ours, tmp_path / "w.safetensors")
    np.testing.assert_allclose(forward(ours, x), twins.forward(model, x), rtol=1e-5, atol=1e-6)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    with pytest.raises(WeightsFileError, match="torch.save zip archive"):
        load_into(ours, tmp_path / "w.pth")


def test_label_names_the_source_in_errors_and_warnings(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, extra=np.zeros(1))
    with pytest.raises(StateDictMismatchError, match=f"^init_from={re.escape(str(path))}: nothing was loaded"):
        load_into(TWINS["mlp"](), path, label=f"init_from={path}")
    with pytest.warns(trainkit.checkpoint.CheckpointWarning, match="^init_from=w.npz: skipped keys"):
        load_into(TWINS["mlp"](), path, strict=False, label="init_from=w.npz")
