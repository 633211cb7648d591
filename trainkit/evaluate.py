"""One pass of a model over a loader without gradients: ``val/loss`` and, for classification, ``val/accuracy``.

The Trainer validates with it; anything else that needs the same numbers for
another set of weights (an averaged model, a learning-rate probe) calls it too.
"""
from __future__ import annotations

from .autograd import no_grad

__all__ = ["evaluate"]


def evaluate(model, loss_fn, loader, to_device, reduce=None) -> dict[str, float]:
    """``{"val/loss": ..., "val/accuracy": ...}`` of ``model`` over ``loader`` in eval mode.

    Sums stay on the device and are transferred once at the end. Accuracy is
    reported when outputs are 2-D and targets 1-D integers. ``to_device(batch)``
    turns a loader item into a tuple of tensors on the model's device. The
    model's train/eval mode is restored afterwards. ``reduce(values)`` sums
    ``[loss sum, count, correct, classification]`` over the processes of a
    data-parallel run (each reading its shard of the loader), so the metrics are
    those of the whole set.
    """
    was_training = model.training
    model.eval()
    total, count, correct, classification = 0.0, 0, 0, None
    try:
        with no_grad():
            for batch in loader:
                batch = to_device(batch)
                target = batch[-1]
                out = model(*batch[:-1])
                n = target.shape[0] if target.ndim else 1
                total = total + loss_fn(out, target).array * n
                count += n
                if classification is None:
                    classification = out.ndim == 2 and target.ndim == 1 and target.dtype.kind in "iu"
                if classification:
                    correct = correct + (out.array.argmax(axis=1) == target.array).sum()
    finally:
        model.train(was_training)
    if reduce is not None:
        sums = reduce([float(total), count, float(correct), 1.0 if classification else 0.0])
        total, count, correct, classification = float(sums[0]), int(sums[1]), float(sums[2]), sums[3] > 0
    if count == 0:
        raise ValueError("Trainer.validate: val_loader yielded no batches")
    metrics = {"val/loss": float(total) / count}
    if classification:
        metrics["val/accuracy"] = float(correct) / count
    return metrics
