"""The typed schema of a ``trainkit train`` run, and :class:`ConfigError`.

``conf/config.yaml`` lists the ``trainkit_base`` node (``Config`` below) first in
its defaults, so every value a YAML file or a command-line override sets is
type-checked against it and a misspelt key is rejected. Each callback's own
schema lives with the callback (``trainkit.builtin_plugins.<name>``), under
``callbacks.<name>``.

Importing this module imports OmegaConf, never Hydra.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

__all__ = [
    "Config",
    "ConfigError",
    "DATA_DERIVED",
    "GradClipConf",
    "LOADER_KEYS",
    "LIGHTNING_KEYS",
    "MOVED_KEYS",
    "ParamsConf",
    "REGISTRY_GROUPS",
    "TrainerConf",
]


class ConfigError(ValueError):
    """A config value the run cannot use; the message names the key, the value and what is accepted."""


#: config group -> plugin registry kind whose names are selectable in that group.
REGISTRY_GROUPS = {
    "optimizer": "optimizers",
    "scheduler": "schedulers",
    "loss": "losses",
    "model": "models",
    "data": "datasets",
}

#: Model arguments filled in from the training data when the config leaves them null.
DATA_DERIVED = ("in_features", "num_classes", "in_channels", "image_size", "out_features")

#: Keys of a ``data`` node that configure the DataLoader rather than the dataset factory.
LOADER_KEYS = ("batch_size", "val_batch_size", "shuffle", "drop_last")

#: Keys that moved when the callbacks got a config group of their own: old prefix -> new prefix.
MOVED_KEYS = {
    "trainer.checkpoint": "callbacks.checkpointing",
    "trainer.early_stopping": "callbacks.early_stopping",
    "trainer.tensorboard": "callbacks.tensorboard.enabled",
    "trainer.progress": "callbacks.progress.enabled",
    "trainer.on_nonfinite": "callbacks.nan_guard.on_nonfinite",
    "trainer.max_nonfinite_streak": "callbacks.nan_guard.max_streak",
}


#: Keys people bring from PyTorch Lightning's Trainer -> what trainkit calls them.
LIGHTNING_KEYS = {
    "trainer.accelerator": "device=cpu|cuda|auto (the top-level `device`)",
    "trainer.devices": "device=cuda:<index> (one device per process; more processes: trainer.strategy=ddp)",
    "trainer.precision": "the model's dtype: trainkit trains in float32 (float64 with model.to(dtype=float64) "
                         "from Python); there is no mixed precision",
    "trainer.fast_dev_run": "trainer=debug (one epoch of at most 5 steps, no checkpoints, no TensorBoard)",
    "trainer.gradient_clip_val": "trainer.grad_clip.max",
    "trainer.gradient_clip_algorithm": "trainer.grad_clip.algorithm",
    "trainer.accumulate_grad_batches": "trainer.accumulate",
    "trainer.check_val_every_n_epoch": "trainer.val_every",
    "trainer.log_every_n_steps": "trainer.log_every",
    "trainer.default_root_dir": "hydra.run.dir",
    "trainer.enable_checkpointing": "callbacks.checkpointing.enabled",
    "trainer.enable_progress_bar": "callbacks.progress.enabled",
    "trainer.logger": "callbacks.tensorboard.enabled",
    "trainer.callbacks": "callbacks=[default,<name>]",
    "ckpt_path": "resume=<run dir or checkpoint> (init_from=<file> for the weights only)",
    "seed": "trainer.seed",
    "seed_everything": "trainer.seed",
}


@dataclass
class GradClipConf:
    """``trainer.grad_clip``: gradient clipping (off while ``max`` is null).

    ``algorithm`` is ``norm`` (``clip_grad_norm_``) or ``value`` (``clip_grad_value_``);
    ``nonfinite`` says what a non-finite gradient norm does: ``skip`` the update
    (counted; abort after ``max_consecutive_skips`` in a row), ``error`` or ``warn``.
    """

    algorithm: str = "norm"
    max: Optional[float] = None
    norm_type: float = 2.0
    nonfinite: str = "skip"
    max_consecutive_skips: int = 10


@dataclass
class TrainerConf:
    """``trainer``: the loop's settings (``trainkit.trainer.Trainer`` arguments).

    ``strategy: ddp`` trains one model on the processes ``mpiexec`` started (world size 1
    outside it); ``num_processes: N`` (with ``ddp``) starts ``mpiexec -n N`` on this machine.
    What watches the loop (checkpoints, early stopping, NaN guard, TensorBoard,
    progress) is configured under ``callbacks``, one node per callback.
    """

    max_epochs: int = 10
    max_steps: Optional[int] = None
    device: str = "${device}"  # the top-level `device`, so every trainer preset follows device=...
    accumulate: int = 1
    val_every: int = 1
    log_every: int = 10
    seed: int = 0
    #: CPU threads of BLAS and numba in this process; null: every core, or in a parallel sweep
    #: (hydra/launcher=joblib or submitit_local) the cores divided by the jobs running at once
    threads: Optional[int] = None
    grad_clip: GradClipConf = field(default_factory=GradClipConf)
    # single: one process; ddp: data-parallel over the processes of mpiexec (README,
    # "Training on several processes / machines"). num_processes > 1 starts mpiexec itself.
    strategy: str = "single"
    num_processes: int = 1


@dataclass
class ParamsConf:
    """``params``: which parameters train, and with which learning rates (``trainkit.params``).

    Patterns are globs on dotted parameter names (``features.*``) or regular
    expressions prefixed ``re:``. ``unfreeze`` maps a pattern to the epoch it
    starts training (with its own ``lr``/``lr_mult`` when given as a mapping).
    ``lr_slice: [low, high]`` spreads the groups' rates geometrically (fastai's ``slice``).
    """

    freeze: List[str] = field(default_factory=list)
    unfreeze: Dict[str, Any] = field(default_factory=dict)
    param_groups: List[Any] = field(default_factory=list)
    no_decay: bool = False
    layer_decay: Optional[float] = None
    lr_slice: Optional[List[float]] = None


@dataclass
class Config:
    """The whole run. Groups fill ``model``, ``data``, ``loss``, ``optimizer``, ``scheduler``, ``callbacks``.

    ``lr`` is the run's learning rate: every optimizer node reads ``lr: ${lr}``
    (``null`` keeps the optimizer's own default), and what the optimizer ends up
    with (``optimizer.lr`` when set) is the one rate the param groups and the
    schedulers (``max_lr`` of one_cycle) use. ``device`` is the run's device
    (``cpu``, ``cuda``, ``cuda:N``, ``auto``), read by ``trainer.device: ${device}``
    so ``trainkit train device=cuda`` works as the tutorials write it. ``resume`` continues a run from
    its directory or a checkpoint; ``init_from`` loads weights only (a trainkit
    checkpoint, ``.npz`` or ``.safetensors``), its keys renamed by ``init_map``
    (``{"module.": ""}``: pattern -> replacement, ``re:`` for regular expressions).
    """

    model: Any = MISSING
    data: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    callbacks: Dict[str, Any] = field(default_factory=dict)
    trainer: TrainerConf = field(default_factory=TrainerConf)
    params: ParamsConf = field(default_factory=ParamsConf)
    lr: Optional[float] = 0.01
    device: str = "cpu"
    resume: Optional[str] = None
    init_from: Optional[str] = None
    init_strict: bool = True
    init_map: Optional[Any] = None
