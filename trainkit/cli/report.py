"""What a ``trainkit train`` job prints about itself: the device at the start; at the end the final
metrics (significant digits, not fixed decimals), the best monitored value and where its checkpoint
is, the run directory and the command that opens TensorBoard on it."""
from __future__ import annotations

from pathlib import Path

__all__ = ["fmt", "print_device", "print_run_end"]


def fmt(value) -> str:
    """A metric as 4 significant digits (``3e-05``, ``0.9433``, ``1234``); anything else as text."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def print_device(requested: str, device) -> None:
    """Say which device the run uses; with ``auto`` on the CPU, say why cuda was not used."""
    line = f"trainkit: device {device}"
    if requested == "auto" and device.type == "cpu":
        from ..backend import cuda_unavailable_reason

        line += f" (trainer.device=auto: {cuda_unavailable_reason()})"
    print(line, flush=True)


def _print_small_model(model, limit: int = 16) -> None:
    """Print the learned weights of a tiny model (``y = 3x + 0.8``: w ~ 3, b ~ 0.8)."""
    import numpy as np

    from ..backend import to_device

    named = list(model.named_parameters())
    if sum(int(p.array.size) for _, p in named) > limit:
        return
    values = "  ".join(
        f"{name}={np.array2string(to_device(p.array, 'cpu').ravel(), precision=4)}" for name, p in named
    )
    print(f"trainkit: learned {values}", flush=True)


def _relative(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_run_end(run, metrics: dict, run_dir) -> None:
    """The end of a run: final metrics, the best checkpoint, the run directory, how to open TensorBoard."""
    shown = {k: v for k, v in metrics.items() if not (k == "train/skipped_steps" and not v)}
    print("trainkit: final metrics: " + "  ".join(f"{k}={fmt(v)}" for k, v in sorted(shown.items())), flush=True)
    for key in ("val/accuracy", "val/loss"):
        if key in metrics:
            print(f"trainkit: {key} {fmt(metrics[key])}", flush=True)
    _print_small_model(run.model)
    trainer = run.trainer
    ckpt = next((p for p in trainer.plugins if getattr(p, "name", None) == "checkpointing"), None)
    if ckpt is not None and ckpt.best_path is not None and ckpt.best_epoch is not None:
        print(f"trainkit: best {ckpt.monitor} {fmt(ckpt.best)} at epoch {ckpt.best_epoch} (step {ckpt.best_step}): "
              f"{_relative(ckpt.best_path)}", flush=True)
    elif trainer.last_checkpoint is not None:
        print(f"trainkit: last checkpoint {_relative(trainer.last_checkpoint)}", flush=True)
    rel = _relative(run_dir)
    if any(getattr(p, "name", None) == "tensorboard" for p in trainer.plugins):
        print(f"trainkit: results in {rel}; curves: tensorboard --logdir {rel}", flush=True)
    else:
        print(f"trainkit: results in {rel}", flush=True)
