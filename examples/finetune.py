"""Fine-tuning with per-layer learning rates, compared with training from scratch.

1. Pre-train a small CNN on the built-in ``shapes`` images (grey 8x8 circles,
   squares and triangles) and save its weights to an ``.npz``.
2. Fine-tune it on scikit-learn's 8x8 ``digits`` (10 classes; only a fifth of
   them for training): the weights come in through ``Trainer(init_from=...)``
   (``init_strict=False`` skips the old 3-class output layer, reported), the
   backbone ``features.*`` is frozen for the first epochs and then unfrozen at
   a lower lr, the head ``classifier.*`` trains at a higher lr, and biases and
   norm parameters get no weight decay. The parameter-group table is printed.
3. Train the same network from scratch for the same number of epochs.
4. Print both validation accuracies.

Run it with ``python examples/finetune.py`` (about two minutes on two CPU cores).
The same three runs from the command line::

    trainkit train experiment=finetune_pretrain hydra.run.dir=runs/pretrain
    trainkit train experiment=finetune_digits init_from=runs/pretrain/checkpoints/best.npz
    trainkit train experiment=finetune_digits params=none
"""
from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np

import trainkit
from trainkit import nn, optim
from trainkit.backend import to_device
from trainkit.builtin_plugins.param_rules import Unfreezer
from trainkit.data import DataLoader, digits, shapes
from trainkit.models import CNN
from trainkit.params import build_param_groups, format_param_groups
from trainkit.trainer import Trainer

#: The network of both tasks (the experiment configs finetune_pretrain/finetune_digits use the same).
NET = dict(in_channels=1, image_size=8, channels=(16, 32), kernel_size=3, activation="relu", hidden=64)


def loaders(splits, batch_size: int = 32):
    return (DataLoader(splits.train, batch_size=batch_size, shuffle=True),
            DataLoader(splits.val, batch_size=256))


def pretrain(path: Path, n_samples: int, epochs: int, lr: float, weight_decay: float) -> float:
    """Train on ``shapes`` and save the weights as a plain ``.npz`` state dict; returns val accuracy."""
    trainkit.manual_seed(0)
    train, val = loaders(shapes(n_samples=n_samples, image_size=8, channels=1))
    model = CNN(num_classes=3, **NET)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    metrics = Trainer(model, nn.CrossEntropyLoss(), opt, train, val, max_epochs=epochs).fit()
    np.savez(path, **{k: to_device(v, "cpu") for k, v in model.state_dict().items()})
    return metrics["val/accuracy"]


def finetune(weights: Path, splits, epochs: int, lr: float, weight_decay: float, unfreeze_epoch: int) -> float:
    """Fine-tune from ``weights`` with freeze / unfreeze / per-group lr rules; returns val accuracy."""
    trainkit.manual_seed(1)
    train, val = loaders(splits)
    model = CNN(num_classes=splits.num_classes, **NET)
    groups = build_param_groups(
        model,
        [{"params": "classifier.*", "lr_mult": 10.0}],  # the new head learns fast
        base_lr=lr,
        freeze=["features.*"],                          # the pre-trained backbone waits ...
        no_decay=True,                                  # biases and norm weights: weight_decay=0
    )
    print("parameter groups at the start of fine-tuning:")
    print(format_param_groups(groups, model))
    opt = optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    # ... and joins at `unfreeze_epoch` as a new param group at 0.1x the lr.
    unfreeze = Unfreezer({"features.*": {"epoch": unfreeze_epoch, "lr_mult": 0.1}})
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, train, val, plugins=[unfreeze],
                      max_epochs=epochs, init_from=weights, init_strict=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = trainer.fit()
    for w in caught:
        print(f"note: {w.message}")
    print("param groups at the end:", ", ".join(f"{g['name']} (lr {g['lr']:.4g})" for g in opt.param_groups))
    return metrics["val/accuracy"]


def scratch(splits, epochs: int, lr: float, weight_decay: float) -> float:
    """The same network and data, all weights random and trained at one lr; returns val accuracy."""
    trainkit.manual_seed(1)
    train, val = loaders(splits)
    model = CNN(num_classes=splits.num_classes, **NET)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return Trainer(model, nn.CrossEntropyLoss(), opt, train, val, max_epochs=epochs).fit()["val/accuracy"]


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-samples", type=int, default=3000)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="fine-tuning and scratch epochs")
    parser.add_argument("--unfreeze-epoch", type=int, default=2)
    parser.add_argument("--val-fraction", type=float, default=0.8, help="share of digits held out")
    parser.add_argument("--weights", default=None, help="where to save the pre-trained .npz")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(args.weights or Path(tmp) / "pretrained_shapes.npz")
        acc = pretrain(weights, args.pretrain_samples, args.pretrain_epochs, lr=3e-3, weight_decay=0.05)
        print(f"pre-trained on shapes: val accuracy {acc:.4f}, weights saved to {weights}")
        splits = digits(val_fraction=args.val_fraction)
        print(f"digits: {len(splits.train)} training / {len(splits.val)} validation images")
        results = {
            "fine-tuned": finetune(weights, splits, args.epochs, 1e-3, 0.05, args.unfreeze_epoch),
            "from scratch": scratch(splits, args.epochs, 1e-3, 0.05),
        }
    print(f"\nval accuracy on digits after {args.epochs} epochs:")
    for name, value in results.items():
        print(f"  {name:<13} {value:.4f}")
    return results


if __name__ == "__main__":
    main()
