"""Sweeps through Hydra's launchers and sweepers: per-job threads, job status, the objective, the summary.

* Each job limits its BLAS/numba threads to the cores divided by the jobs that
  run at once (``hydra/launcher=joblib``'s ``n_jobs``, ``submitit_local``'s
  ``array_parallelism``), unless ``trainer.threads`` says otherwise.
* Each job leaves ``job_status.json`` in its directory (ok / failed, the
  message, the objective), so the end of a sweep can list every job whatever
  process ran it.
* The value a job returns (what Optuna optimises) is the best value of the
  checkpointing monitor (``callbacks.checkpointing.monitor``, ``val/loss`` by
  default; else the final ``val/loss`` or ``train/loss``); a failed or diverged job
  returns no number, which Optuna records as a failed trial.
* ``hydra/sweeper=optuna`` gets ``direction`` from the monitor's ``mode`` and a
  ``max_failure_rate`` of 1.0 unless the command line sets them, so diverging
  trials do not end the study.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from hydra.experimental.callback import Callback

from ..threads import limit_threads, threads_per_job

__all__ = ["STATUS_FILE", "SweepSummary", "dirname_overrides", "job_objective", "job_threads", "sweeper_overrides", "write_status"]

STATUS_FILE = "job_status.json"

#: Sweep jobs that failed, as the summary found them: (job directory, message); read by ``cmd_train``.
FAILED: list[tuple[str, str]] = []


def _parallel_jobs(launcher) -> int:
    """How many jobs the launcher runs at once (1 for the basic launcher)."""
    from ..threads import cpu_count

    n_jobs = launcher.get("n_jobs") if launcher is not None else None
    if n_jobs is not None:
        n_jobs = int(n_jobs)
        return cpu_count() if n_jobs < 0 else max(1, n_jobs)
    parallel = launcher.get("array_parallelism") if launcher is not None else None
    return max(1, int(parallel)) if parallel else 1


def job_threads(cfg, hydra_cfg) -> int | None:
    """Limit this job's threads (``trainer.threads``, else cores / parallel jobs); returns the limit set."""
    threads = cfg.trainer.get("threads")
    if threads is None:
        parallel = _parallel_jobs(hydra_cfg.launcher) if hydra_cfg is not None else 1
        if parallel <= 1:
            return None
        threads = threads_per_job(parallel)
    limit_threads(int(threads))
    return int(threads)


def job_objective(run, metrics: dict) -> tuple[str, float]:
    """``(metric, value)`` a sweep job returns: the checkpointing monitor's best value, else a final loss."""
    for plugin in run.trainer.plugins:
        if getattr(plugin, "name", None) == "checkpointing" and getattr(plugin, "monitor", None):
            best = getattr(plugin, "best", None)
            if best is not None and math.isfinite(best):
                return plugin.monitor, float(best)
    for key in ("val/loss", "train/loss"):
        if metrics.get(key) is not None:
            return key, float(metrics[key])
    return "none", math.nan


def write_status(run_dir, status: str, message: str | None = None, metric: str | None = None,
                 value: float | None = None) -> None:
    """Leave ``job_status.json`` in a job's directory (when the directory still exists)."""
    path = Path(run_dir)
    if not path.is_dir():
        return
    value = None if value is None or not math.isfinite(value) else float(value)
    (path / STATUS_FILE).write_text(json.dumps({"status": status, "message": message, "metric": metric,
                                                "value": value}))


def sweeper_overrides(overrides: list[str], configs) -> list[str]:
    """For ``hydra/sweeper=optuna``: ``direction`` following the monitor's mode and ``max_failure_rate=1.0``,
    unless given on the command line."""
    if not any(o.split("=", 1)[0].lstrip("+") == "hydra/sweeper" and o.endswith("optuna") for o in overrides):
        return []
    given = {o.split("=", 1)[0].lstrip("+") for o in overrides}
    extra = []
    if "hydra.sweeper.direction" not in given:
        mode = "min"
        if configs and "checkpointing" in configs[0].callbacks:
            mode = str(configs[0].callbacks.checkpointing.mode)
        extra.append(f"hydra.sweeper.direction={'maximize' if mode == 'max' else 'minimize'}")
    if "hydra.sweeper.max_failure_rate" not in given:
        extra.append("hydra.sweeper.max_failure_rate=1.0")
    return extra


def _dirname_excluded() -> list[str]:
    """The keys ``conf/config.yaml`` keeps out of every job directory's name (its ``exclude_keys``)."""
    from importlib import resources

    from omegaconf import OmegaConf

    conf = OmegaConf.load(resources.files("trainkit.conf") / "config.yaml")
    return [str(k) for k in conf.hydra.job.config.override_dirname.exclude_keys]


def dirname_overrides(overrides: list[str], multirun: bool) -> list[str]:
    """Name a sweep's job directories by what the sweep varies: ``1_optimizer=adam``, not every override
    of the command line (which all jobs share); TensorBoard shows these names as the runs'."""
    if not multirun:
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - the command line was checked already; keep Hydra's default
        return []
    fixed = [o.key_or_group for o in parsed if not o.is_sweep_override() and not o.key_or_group.startswith("hydra")]
    if not fixed or not any(o.is_sweep_override() for o in parsed):
        return []
    keys = ",".join(dict.fromkeys([*_dirname_excluded(), *fixed]))
    return [f"hydra.job.config.override_dirname.exclude_keys=[{keys}]"]


def _read_status(job: Path) -> dict:
    try:
        return json.loads((job / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {"status": "unknown", "message": "no job_status.json (the job did not finish)"}


def summarize(sweep_dir: Path) -> str:
    """The table of every job of a sweep: its overrides, status, objective and best val metrics."""
    from ..runs.metrics import job_order
    from ..runs.table import compare_rows, run_labels

    jobs = sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and (p / ".hydra").is_dir()), key=job_order)
    if not jobs:
        return ""
    statuses = [_read_status(j) for j in jobs]
    rows = compare_rows(jobs, ("val/loss", "val/accuracy"))
    header = ["job", "overrides", "status", "objective", "best val/loss", "best val/accuracy"]
    body = []
    FAILED.clear()
    for job, label, st, row in zip(jobs, run_labels(jobs), statuses, rows):
        if st["status"] != "ok":
            FAILED.append((str(job), st.get("message") or st["status"]))
        objective = "-" if st.get("value") is None else f"{st['metric']}={st['value']:.4g}"
        best = [("-" if row["best"][t] is None else f"{row['best'][t][0]:.4g}") for t in ("val/loss", "val/accuracy")]
        body.append([job.name.split("_", 1)[0], label, st["status"], objective, *best])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in trainkit's config): the job table at the end of every sweep."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_dir():
            return
        table = summarize(sweep_dir)
        if table:
            print(f"trainkit: sweep {sweep_dir} ({len(table.splitlines()) - 2} jobs; "
                  f"trainkit compare {sweep_dir}; tensorboard --logdir {sweep_dir})\n{table}", flush=True)
