"""Hyperparameter checks shared by several optimizers, with torch's exact wording."""
from __future__ import annotations

from .groups import required


def check_lr(hp) -> None:
    if hp["lr"] is not required and not 0.0 <= hp["lr"]:
        raise ValueError(f"Invalid learning rate: {hp['lr']}")


def check_eps(hp) -> None:
    if not 0.0 <= hp["eps"]:
        raise ValueError(f"Invalid epsilon value: {hp['eps']}")


def check_betas(hp) -> None:
    betas = hp["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def check_weight_decay(hp) -> None:
    if not 0.0 <= hp["weight_decay"]:
        raise ValueError(f"Invalid weight_decay value: {hp['weight_decay']}")


def check_adam_family(hp) -> None:
    """The checks every Adam-style optimizer makes, in torch's order: lr, eps, betas, weight_decay."""
    check_lr(hp)
    check_eps(hp)
    check_betas(hp)
    check_weight_decay(hp)
