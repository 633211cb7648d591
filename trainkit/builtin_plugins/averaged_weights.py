"""What the EMA and SWA callbacks share: validating an averaged copy, its state, its weights file.

An averaged model's validation metrics are the Trainer's (:func:`trainkit.evaluate.evaluate`)
under their own prefix (``val_ema/loss``, ``val_swa/accuracy``), and its weights file is a
trainkit checkpoint whose ``model`` entry holds the averaged weights and whose
``weights`` entry says which (``"ema"``, ``"swa"``): ``init_from=`` and ``trainkit export``
read it like any checkpoint (``trainkit export --ema`` too, for an EMA file).
"""
from __future__ import annotations

from pathlib import Path

from .. import checkpoint as ckpt
from ..evaluate import evaluate
from ..trainer_inputs import batch_to_device

__all__ = ["averaged_state", "load_averaged_state", "save_weights", "validate_averaged", "weights_dir"]


def validate_averaged(trainer, module, prefix: str) -> dict[str, float]:
    """``module``'s validation metrics over the Trainer's ``val_loader``, ``val/`` renamed to ``<prefix>/``."""
    metrics = evaluate(module, trainer.loss_fn, trainer.val_loader, lambda b: batch_to_device(b, trainer.device))
    return {f"{prefix}/{key.split('/', 1)[1]}": value for key, value in metrics.items()}


def averaged_state(averaged) -> dict:
    """An :class:`~trainkit.optim.swa_utils.AveragedModel`'s state for a checkpoint:
    ``{"model": name -> array (the averaged weights, the model's names), "n_averaged": int}``."""
    return {"model": {k: v.copy() for k, v in averaged.module.state_dict().items()},
            "n_averaged": int(averaged.n_averaged.array)}


def load_averaged_state(averaged, state: dict) -> None:
    """Put :func:`averaged_state`'s output back (bit-identically)."""
    if state["model"]:  # empty: saved before the first update, nothing averaged yet
        averaged.module.load_state_dict(state["model"])
    averaged.n_averaged.array[...] = int(state["n_averaged"])


def weights_dir(trainer) -> Path | None:
    """``<run_dir>/checkpoints`` (None without a run directory)."""
    return None if trainer.run_dir is None else Path(trainer.run_dir) / ckpt.CHECKPOINT_DIRNAME


def save_weights(path: Path, averaged, kind: str, **info) -> Path:
    """Write the averaged weights as a checkpoint (``model``, ``weights=kind`` and ``info``), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return ckpt.save(path, {"model": dict(averaged.module.state_dict()), "weights": kind, **info})
