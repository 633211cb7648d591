"""A composed config -> every object of one run, ready for ``run.trainer.fit()``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from .. import random as tk_random
from ..config.schema import ConfigError
from ..distributed.strategy import make_strategy
from ..trainer import Trainer
from .callbacks import build_callbacks, build_grad_transforms
from .checks import check_run_monitors, check_trainer
from .data import DataInfo, build_data
from .groups import build_groups
from .model import build_loss, build_model
from .schedule import build_optimizer, build_scheduler, updates_per_epoch
from .values import plain

__all__ = ["Run", "build_run"]


@dataclass
class Run:
    """Everything one ``trainkit train`` job built, ready for ``run.trainer.fit()``."""

    trainer: Any
    model: Any
    loss: Any
    optimizer: Any
    scheduler: Any
    train_loader: Any
    val_loader: Any
    data_info: DataInfo
    param_groups: list = field(default_factory=list)
    param_table: str = ""


def build_run(cfg, run_dir=None) -> Run:
    """Build the whole run of ``cfg`` (a composed, typed run config).

    Order: seed; data (its shapes size the model); model; loss; parameter rules
    (freeze, groups) -> optimizer; scheduler; callbacks and gradient transforms;
    the Trainer (which loads ``resume``/``init_from`` when it starts). The run's
    learning rate is ``optimizer.lr`` (the top-level ``lr`` unless overridden):
    the groups and the schedulers both take it from there.

    Raises:
        ConfigError: any config value the run cannot use.
    """
    tcfg = cfg.trainer
    check_trainer(tcfg)
    tk_random.manual_seed(int(tcfg.seed))
    train_loader, val_loader, info = build_data(cfg.data, seed=int(tcfg.seed))
    strategy = make_strategy(str(tcfg.get("strategy", "single")), _device_type(str(tcfg.device)))
    strategy.shard_loaders(train_loader, val_loader)  # before len(train_loader) sizes the schedules
    model = build_model(cfg.model, info)
    loss = build_loss(cfg.loss)
    base_lr = cfg.optimizer.get("lr") if "lr" in cfg.optimizer else None
    groups, table, rule_plugins = build_groups(cfg.params, model, base_lr, optimizer=cfg.optimizer)
    optimizer = build_optimizer(cfg.optimizer, groups)
    scheduler = build_scheduler(
        cfg.scheduler, optimizer, steps_per_epoch=updates_per_epoch(len(train_loader), int(tcfg.accumulate)),
        max_epochs=int(tcfg.max_epochs), max_steps=tcfg.max_steps,
    )
    callbacks = build_callbacks(cfg.callbacks)
    check_run_monitors(callbacks, scheduler, val_loader, info, optimizer)
    try:
        trainer = Trainer(
            model, loss, optimizer, train_loader, val_loader=val_loader, scheduler=scheduler,
            plugins=rule_plugins + callbacks, max_epochs=int(tcfg.max_epochs),
            max_steps=None if tcfg.max_steps is None else int(tcfg.max_steps), device=str(tcfg.device),
            accumulate=int(tcfg.accumulate), val_every=int(tcfg.val_every), log_every=int(tcfg.log_every),
            grad_transforms=build_grad_transforms(tcfg), run_dir=run_dir,
            default_plugins=False, resume=cfg.get("resume"), init_from=cfg.get("init_from"),
            init_strict=bool(cfg.get("init_strict", True)), init_map=plain(cfg.get("init_map")),
            config=OmegaConf.to_container(cfg, resolve=True), strategy=strategy,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer: {exc}") from exc
    return Run(trainer, model, loss, optimizer, scheduler, train_loader, val_loader, info, groups, table)


def _device_type(device: str) -> str:
    """``cpu`` or ``cuda`` for a ``trainer.device`` value (``auto``: cuda when usable)."""
    from ..backend import Device

    return Device(device).type
