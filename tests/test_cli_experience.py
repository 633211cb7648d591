"""The command line as a user meets it: shell completion, Lightning's names, ``+key=`` that nothing reads,
``trainkit resume`` with the saved config, and the model summary."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRAINKIT = Path(sys.executable).with_name("trainkit")
pytestmark = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")
QUICK = ["data.n_samples=300", "callbacks.progress.enabled=false"]


def tk(*args, cwd: Path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=240,
                          env=env)


def _complete(words: list[str], tmp_path: Path) -> list[str]:
    """COMPREPLY of the installed bash completion for a command line ending in ``words[-1]``."""
    line = " ".join(words)
    script = (
        'eval "$(trainkit completion bash)"\n'
        f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}\n'
        f'COMP_WORDS=({" ".join(words)}); COMP_CWORD={len(words) - 1}\n'
        '_trainkit_complete; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ, PATH=f"{TRAINKIT.parent}{os.pathsep}{os.environ['PATH']}")
    res = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    return [w for w in res.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_subcommands_groups_and_keys(tmp_path):
    assert _complete(["trainkit", "tr"], tmp_path) == ["train"]
    assert {"optimizer=adam", "optimizer=adamw", "optimizer=adagrad"} <= set(_complete(["trainkit", "train", "optimizer=ad"], tmp_path))
    assert "trainer.max_epochs=" in _complete(["trainkit", "train", "trainer.max_e"], tmp_path)
    assert "callbacks.checkpointing." in " ".join(_complete(["trainkit", "train", "callbacks.che"], tmp_path))


def test_hydra_install_form_prints_the_trainkit_script_and_zsh_uses_bashcompinit(tmp_path):
    res = tk("train", "-sc", "install=bash", cwd=tmp_path)
    assert res.returncode == 0 and "complete -o nospace -o default -F _trainkit_complete trainkit" in res.stdout
    assert "trainkit-train" not in res.stdout
    zsh = tk("completion", "zsh", cwd=tmp_path)
    assert zsh.stdout.startswith("autoload -Uz bashcompinit && bashcompinit") and "_trainkit_complete" in zsh.stdout


@pytest.mark.parametrize("override, words", [
    ("trainer.accelerator=gpu", "device=cpu|cuda|auto"),
    ("+trainer.accelerator=gpu", "nothing reads"),
    ("ckpt_path=runs/x", "resume=<run dir or checkpoint>"),
    ("trainer.fast_dev_run=true", "trainer=debug"),
    ("trainer.precision=16", "no mixed precision"),
    ("+callbacks.progress.colour=red", "nothing reads"),
])
def test_lightning_names_and_unread_keys_are_errors_with_trainkits_name(tmp_path, override, words):
    res = tk("train", override, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("trainkit: error: config:"), res.stderr
    assert words in res.stderr
    assert not (tmp_path / "runs").exists()


def test_resume_alone_continues_with_the_saved_config_and_names_what_is_on_top(tmp_path):
    first = tk("train", "optimizer=sgd", "lr=0.05", "trainer.max_epochs=2", *QUICK, "hydra.run.dir=runs/r",
               cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    res = tk("resume", "runs/r", "trainer.max_epochs=3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "on top of it: trainer.max_epochs=3" in out
    # the saved optimizer and lr were used, so the config diff names only the new max_epochs
    assert "NOT applied" not in out and "trainer.max_epochs: 2 -> 3" in out
    assert "train/lr/default=0.05" in out


def test_the_run_starts_with_a_model_summary(tmp_path):
    res = tk("train", "trainer=debug", "model=mlp", *QUICK, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "model MLP:" in out and "trainable params" in out and "total size (MB" in out
