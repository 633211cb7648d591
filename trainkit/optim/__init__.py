"""Optimizers with torch.optim's names, arguments, defaults and numerics.

Element-wise algorithms run one rule (declared in the algorithm's module) over flat
buffers, as plain numpy, a fused numba loop or one cupy kernel; LBFGS,
Adafactor, Muon and SparseAdam use array code (see their docstrings).
"""
from __future__ import annotations

import importlib

from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .muon import Muon
from .nadam import NAdam
from .optimizer import Optimizer, StateDictError, required
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = [
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon", "NAdam",
    "Optimizer", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam", "StateDictError", "required",
]


def __getattr__(name):
    # ``trainkit.optim.lr_scheduler`` / ``swa_utils`` like torch.optim's, imported on first use.
    if name in ("lr_scheduler", "swa_utils"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
