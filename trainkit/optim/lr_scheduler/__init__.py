"""Learning-rate schedulers with torch.optim.lr_scheduler's names, arguments and LR sequences.

Every scheduler has ``.interval`` (``"epoch"`` by default; ``"step"`` for
``CyclicLR``, ``OneCycleLR`` and the warmup composites) telling the Trainer
when to step it. ``ReduceLROnPlateau`` also has ``.monitor`` (default
``"val/loss"``) and ``.mode``.

This package is self-contained: it relies only on the torch optimizer
contract (``param_groups`` list of dicts, ``defaults``).
"""
from .base import LRScheduler
from .composite import ChainedScheduler, SequentialLR
from .cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .cyclic import CyclicLR, OneCycleLR
from .decay import ConstantLR, ExponentialLR, LinearLR, MultiStepLR, PolynomialLR, StepLR
from .lambda_lr import LambdaLR, MultiplicativeLR
from .plateau import MissingMetricError, ReduceLROnPlateau, monitored_value
from .warmup import WarmupCosineLR, WarmupLinearLR

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "LRScheduler",
    "WarmupCosineLR",
    "WarmupLinearLR",
    "MissingMetricError",
    "monitored_value",
]
