"""What ``trainkit train`` looks like in a real terminal (a pseudo-terminal): one bar line per epoch
with the epoch's loss, lr and validation numbers, log lines above the bars, never inside one; and
one compact line per epoch when the output is not a terminal."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

TRAINKIT = Path(sys.executable).with_name("trainkit")
pytestmark = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")
RUN = ["train", "trainer.max_epochs=4", "data.n_samples=600", "callbacks.tensorboard.enabled=false"]


def run_in_pty(args, cwd: Path, cols: int = 150) -> tuple[int, str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([str(TRAINKIT), *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=240)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def screen(text: str) -> list[str]:
    """The lines a terminal would show: carriage returns overwrite, ANSI cursor moves are dropped."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    lines = [raw.split("\r")[-1] for raw in text.replace("\r\n", "\n").split("\n")]
    return [ln for ln in lines if ln.strip()]


def test_a_terminal_shows_one_bar_line_per_epoch_with_its_numbers(tmp_path):
    rc, out = run_in_pty(RUN, tmp_path)
    assert rc == 0, out
    lines = screen(out)
    bars = [ln for ln in lines if "%|" in ln]
    assert [b.split(":")[0] for b in bars] == [f"epoch {i}/4" for i in range(1, 5)], "\n".join(lines)
    for bar in bars:
        assert "100%" in bar and "15/15" in bar
        assert re.search(r"loss=[0-9.]+, lr=0\.01, val/loss=[0-9.]+, val/acc=[0-9.]+", bar), bar
    # log lines (model summary, the end of the run) are lines of their own, never glued to a bar
    assert not any("%|" in ln and ("[20" in ln or "trainkit:" in ln) for ln in lines)
    assert lines.index(bars[0]) > next(i for i, ln in enumerate(lines) if "trainable params" in ln)
    assert lines[-1].startswith("trainkit: results in")


def test_without_a_terminal_each_epoch_is_one_compact_line(tmp_path):
    res = subprocess.run([str(TRAINKIT), *RUN], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    epochs = [ln for ln in (res.stdout + res.stderr).splitlines() if "trainkit.progress" in ln]
    assert len(epochs) == 4, res.stdout
    for i, line in enumerate(epochs, start=1):
        body = line.split(" - ", 1)[1]
        assert re.fullmatch(rf"epoch {i}/4 step {15 * i}: loss [0-9.e-]+, val/loss [0-9.e-]+, val/acc [0-9.e-]+, "
                            r"lr 0\.01 \([0-9.e-]+ s\)", body), body
        assert len(body) < 110
