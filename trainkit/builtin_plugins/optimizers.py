"""Built-in optimizers, registered under torch's lowercase names (``optimizer=adamw``)."""
from __future__ import annotations

from ..hookspecs import hookimpl

BUILTIN_OPTIMIZERS = (
    ("sgd", "SGD"), ("adam", "Adam"), ("adamw", "AdamW"), ("adamax", "Adamax"), ("adadelta", "Adadelta"),
    ("adagrad", "Adagrad"), ("asgd", "ASGD"), ("nadam", "NAdam"), ("radam", "RAdam"), ("rmsprop", "RMSprop"),
    ("rprop", "Rprop"), ("sparse_adam", "SparseAdam"), ("lbfgs", "LBFGS"), ("adafactor", "Adafactor"),
    ("muon", "Muon"),
)


@hookimpl
def register_optimizers(register) -> None:
    """Register the 15 torch.optim algorithms of trainkit.optim."""
    from .. import optim

    for name, cls_name in BUILTIN_OPTIMIZERS:
        register(name, getattr(optim, cls_name))
