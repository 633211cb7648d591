"""The comparison table of runs: per run, the final and the best value of each metric.

A run is labelled by the command-line overrides that set it apart from the
others (from Hydra's ``.hydra/overrides.yaml``: ``optimizer=adam lr=0.01``), or by
its folder name. "Best" is the lowest value of a loss and the highest of
anything else (accuracy), with the step it was reached at.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .metrics import run_scalars

__all__ = ["DEFAULT_COLUMNS", "compare_rows", "format_rows", "override_key", "run_labels", "run_overrides"]

DEFAULT_COLUMNS = ("train/loss", "val/loss", "val/accuracy")


def override_key(override: str) -> str:
    """The key of a command-line override: ``+trainer.max_epochs=3`` -> ``trainer.max_epochs``."""
    return str(override).split("=", 1)[0].lstrip("+~")


def run_overrides(run_dir: Path) -> list[str]:
    """The command-line overrides of a job, from Hydra's ``.hydra/overrides.yaml`` ([] if absent)."""
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])]


def run_labels(runs: list[Path]) -> list[str]:
    """One label per run: the overrides that differ between the runs, else the folder name."""
    per_run = [run_overrides(r) for r in runs]
    common = set.intersection(*map(set, per_run)) if len(per_run) > 1 else set()
    labels = []
    for run, items in zip(runs, per_run):
        shown = [o for o in items if o not in common]
        labels.append(" ".join(shown) if shown else Path(run).name)
    return labels


def _lower_is_better(tag: str) -> bool:
    return "loss" in tag or "error" in tag or tag.startswith("time/")


def compare_rows(runs: list[Path], columns=DEFAULT_COLUMNS) -> list[dict]:
    """``[{"run", "label", "final": {tag: value}, "best": {tag: (value, step)}}, ...]`` per run."""
    rows = []
    for run, label in zip(runs, run_labels(runs)):
        scalars = run_scalars(run)
        final, best = {}, {}
        for tag in columns:
            points = sorted(scalars.get(tag) or scalars.get(f"hparams/{tag}") or [], key=lambda p: p[0])
            if not points:
                final[tag], best[tag] = None, None
                continue
            final[tag] = points[-1][1]
            pick = min if _lower_is_better(tag) else max
            value = pick(v for _, v in points)
            best[tag] = (value, next(s for s, v in points if v == value))
        rows.append({"run": Path(run), "label": label, "final": final, "best": best})
    return rows


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_rows(rows: list[dict], columns=DEFAULT_COLUMNS) -> str:
    """A text table: the run, then each metric's final value and its best ``value@step``."""
    header = ["run"]
    for tag in columns:
        header += [tag, "best"]
    body = []
    for row in rows:
        line = [row["label"]]
        for tag in columns:
            best = row["best"][tag]
            line += [_num(row["final"][tag]), "-" if best is None else f"{_num(best[0])}@{best[1]}"]
        body.append(line)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
