"""Parsing helpers shared by the example tests (imported by name: tests/examples is on sys.path)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXPERIMENTS = ROOT / "trainkit" / "conf" / "experiment"

def final_metrics(stdout: str) -> dict[str, float]:
    """The ``trainkit: final metrics: k=v ...`` line of a run as a dict (last one wins)."""
    lines = re.findall(r"^trainkit: final metrics: (.*)$", stdout, flags=re.M)
    assert lines, f"no final metrics line in:\n{stdout}"
    return {k: float(v) for k, v in (item.split("=", 1) for item in lines[-1].split())}


def run_dirs(root: Path) -> list[Path]:
    """Every job directory (it holds Hydra's ``.hydra``) under ``root``."""
    return sorted(p.parent for p in root.rglob(".hydra"))
