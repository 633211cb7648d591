"""Fine-tuning from PyTorch weights through the CLI: ``init_from=<file>.safetensors`` with ``init_map``,
a frozen backbone and a 10x head learning rate; the dry run in ``trainkit groups``; ``trainkit export``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainkit

TRAINKIT = Path(sys.executable).with_name("trainkit")
pytestmark = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

#: The backbone frozen, the head (a 3-class layer replacing the file's 5-class one) at 10x the lr.
FINETUNE = [
    "model=mlp", "data=spirals", "data.n_samples=300", "trainer.max_epochs=2", "callbacks.progress.enabled=false",
    "init_map={module.:\"\"}", "init_strict=false",
    "params.freeze=[layers.0.*,layers.2.*]", "params.param_groups=[{params: layers.4.*, lr_mult: 10}]",
]


def tk(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=240)


def _torch_trained(torch, path: Path) -> dict[str, np.ndarray]:
    """A torch MLP 2-64-64-5 trained a few steps, saved as DDP would name it (``module.layers.*``)."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = torch.nn.Module()
    net.layers = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                     torch.nn.ReLU(), torch.nn.Linear(64, 5))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(64, 2), torch.randint(0, 5, (64,))
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net.layers(x), y).backward()
        opt.step()
    state = {f"module.{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path))
    return {k: v.numpy() for k, v in state.items()}


def _numpy_made(path: Path) -> dict[str, np.ndarray]:
    """The same names and shapes written with safetensors' numpy API (no torch needed)."""
    rng = np.random.default_rng(0)
    shapes = {"layers.0.weight": (64, 2), "layers.0.bias": (64,), "layers.2.weight": (64, 64),
              "layers.2.bias": (64,), "layers.4.weight": (5, 64), "layers.4.bias": (5,)}
    state = {f"module.{k}": rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    safetensors_numpy.save_file(state, str(path))
    return state


@pytest.fixture(params=["torch", "numpy"])
def pretrained(request, tmp_path):
    path = tmp_path / "pretrained.safetensors"
    if request.param == "torch":
        torch = pytest.importorskip("torch")
        return path, _torch_trained(torch, path)
    return path, _numpy_made(path)


def test_finetune_from_safetensors_reports_skipped_head_and_trains(pretrained, tmp_path):
    path, weights = pretrained
    res = tk("train", f"init_from={path}", *FINETUNE, "hydra.run.dir=run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    # the 5-class head does not fit the 3-class data: reported, not loaded
    assert "skipped keys" in out and "layers.4.weight (file (5, 64), model (3, 64))" in out
    assert "trainkit: final metrics:" in out
    state = trainkit.checkpoint.load_latest(tmp_path / "run")[1]
    # the frozen backbone is exactly the file's weights after training; the head trained from its own init
    for key in ("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"):
        np.testing.assert_array_equal(state["model"][key], weights[f"module.{key}"])
    groups = {g["name"]: g["lr"] for g in state["optimizer"]["param_groups"]}
    assert groups["layers.4.*"] == pytest.approx(10 * 0.01)


def test_groups_prints_the_mapping_table_without_training(pretrained, tmp_path):
    path, _ = pretrained
    res = tk("groups", f"init_from={path}", *FINETUNE, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "module.layers.0.weight" in res.stdout and "layers.0.weight" in res.stdout
    assert "wrong shape" in res.stdout
    assert not (tmp_path / "runs").exists()


def test_bad_init_from_files_are_config_errors_before_a_run_directory(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 7)
    (tmp_path / "model.pt").write_bytes(b"\x80\x04K\x01.")
    for name, words in (("junk.safetensors", "junk.safetensors"), ("model.pt", "st.save_file(torch.load('model.pt', weights_only=True)")):
        res = tk("train", f"init_from={name}", "trainer=debug", cwd=tmp_path)
        assert res.returncode == 2 and "trainkit: error: config: init_from=" in res.stderr, res.stderr
        assert words in res.stderr
    assert not (tmp_path / "runs").exists()


def test_export_writes_what_torch_loads_strictly(tmp_path, torch):
    from safetensors.torch import load_file

    res = tk("train", "model=mlp", "data=spirals", "data.n_samples=300", "trainer.max_epochs=1",
             "callbacks.progress.enabled=false", "hydra.run.dir=run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = tk("export", "run", "w.safetensors", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    net = torch.nn.Module()
    net.layers = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                     torch.nn.ReLU(), torch.nn.Linear(64, 3))
    net.load_state_dict(load_file(str(tmp_path / "w.safetensors")), strict=True)
    state = trainkit.checkpoint.load_latest(tmp_path / "run")[1]["model"]
    np.testing.assert_array_equal(net.layers[4].weight.detach().numpy(), state["layers.4.weight"])
