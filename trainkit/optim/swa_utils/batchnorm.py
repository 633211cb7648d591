"""``update_bn``: recompute BatchNorm running statistics with one pass over data (torch.optim.swa_utils)."""
from __future__ import annotations

from ...autograd import no_grad
from ...autograd.tensor import Tensor
from ...nn.normalization import _BatchNorm

__all__ = ["update_bn"]


def update_bn(loader, model, device=None) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them over ``loader``.

    As torch: the statistics become the cumulative average over all batches
    (``momentum=None`` during the pass, restored after); each batch is a
    tensor or a list/tuple whose first element is the model's input; the
    model's train/eval mode is restored. A model without BatchNorm is left alone.

    Args:
        loader: iterable of batches (a ``DataLoader``).
        model: the model (e.g. an ``AveragedModel``).
        device: move each input there first (default: as it comes).
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
                if not isinstance(inputs, Tensor):
                    inputs = Tensor(inputs)
                if device is not None:
                    inputs = inputs.to(device)
                model(inputs)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)
