"""Fine-tuning with per-layer learning rates, compared with training from scratch.

1. Pre-train a small CNN on the built-in ``shapes`` images (grey 8x8 circles,
   squares and triangles) and save its weights to an ``.npz``.
2. Fine-tune it on scikit-learn's 8x8 ``digits`` (10 classes; by default only a
   fifth of them for training, ``--val-fraction``): the weights come in through
   ``Trainer(init_from=...)`` (``init_strict=False`` skips the old 3-class
   output layer, reported), the backbone ``features.*`` is frozen for the first
   epochs and then unfrozen at 0.1x the lr, the head ``classifier.*`` trains at
   10x the lr, and biases and norm parameters get no weight decay (the
   unfrozen ones too). The parameter-group table is printed.
3. Train the same network from scratch for the same number of epochs.
4. Both at each learning rate of ``--lrs`` (the same grid for both: a method
   is judged at its own best rate, not at one that suits the other) and with
   ``--seeds`` seeds each; print mean (min-max) validation accuracies and each
   method's best lr.

Run it with ``python examples/finetune.py`` (30 short trainings: several
minutes on two CPU cores; ``--lrs 1e-3 --seeds 1`` for a quick look). The
README's table comes from ``--val-fraction 0.8``, ``0.9`` and ``0.95``.
The same runs from the command line (one lr and seed per job)::

    trainkit train experiment=finetune_pretrain hydra.run.dir=runs/pretrain
    trainkit train -m experiment=finetune_digits init_from=runs/pretrain/checkpoints/best.npz \
        lr=3e-4,1e-3,3e-3,1e-2,3e-2 trainer.seed=0,1,2
    trainkit train -m experiment=finetune_digits params=none lr=3e-4,1e-3,3e-3,1e-2,3e-2 trainer.seed=0,1,2
"""
from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

# isort: off
import trainkit  # before numpy, so OpenBLAS gets trainkit's thread settings (README, "Threads and memory")
import numpy as np
# isort: on

from trainkit import nn, optim
from trainkit.backend import to_device
from trainkit.builtin_plugins.param_rules import Unfreezer
from trainkit.data import DataLoader, digits, shapes
from trainkit.models import CNN
from trainkit.params import build_param_groups, format_param_groups
from trainkit.trainer import Trainer

#: The network of both tasks (the experiment configs finetune_pretrain/finetune_digits use the same).
NET = dict(in_channels=1, image_size=8, channels=(16, 32), kernel_size=3, activation="relu", hidden=64)


def loaders(splits, batch_size: int = 32, seed: int = 0):
    return (DataLoader(splits.train, batch_size=batch_size, shuffle=True, seed=seed),
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


def finetune(weights: Path, splits, epochs: int, lr: float, weight_decay: float, unfreeze_epoch: int,
             seed: int = 1, verbose: bool = True) -> float:
    """Fine-tune from ``weights`` with freeze / unfreeze / per-group lr rules; returns val accuracy.

    ``lr`` is the base rate: the head trains at 10x, the unfrozen backbone at 0.1x.
    """
    trainkit.manual_seed(seed)
    train, val = loaders(splits, seed=seed)
    model = CNN(num_classes=splits.num_classes, **NET)
    rules = [{"params": "classifier.*", "lr_mult": 10.0}]  # the new head learns fast
    groups = build_param_groups(
        model,
        rules,
        base_lr=lr,
        freeze=["features.*"],                          # the pre-trained backbone waits ...
        no_decay=True,                                  # biases and norm weights: weight_decay=0
    )
    if verbose:
        print("parameter groups at the start of fine-tuning:")
        print(format_param_groups(groups, model))
    opt = optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    # ... and joins at `unfreeze_epoch` as new param groups at 0.1x the lr, built with the same
    # rules as the initial groups (so its biases get no weight decay either).
    unfreeze = Unfreezer({"features.*": {"epoch": unfreeze_epoch, "lr_mult": 0.1}}, lr=lr,
                         param_groups=rules, no_decay=True)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, train, val, plugins=[unfreeze],
                      max_epochs=epochs, init_from=weights, init_strict=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = trainer.fit()
    if verbose:
        for w in caught:
            print(f"note: {w.message}")
        print("param groups at the end:", ", ".join(
            f"{g['name']} (lr {g['lr']:.4g}, weight_decay {g['weight_decay']:g})" for g in opt.param_groups))
    return metrics["val/accuracy"]


def scratch(splits, epochs: int, lr: float, weight_decay: float, seed: int = 1) -> float:
    """The same network and data, all weights random and trained at one lr; returns val accuracy."""
    trainkit.manual_seed(seed)
    train, val = loaders(splits, seed=seed)
    model = CNN(num_classes=splits.num_classes, **NET)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return Trainer(model, nn.CrossEntropyLoss(), opt, train, val, max_epochs=epochs).fit()["val/accuracy"]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def summary(results: dict[str, dict[float, list[float]]]) -> str:
    """The table printed at the end: mean (min-max) accuracy per method and lr, and each method's best lr."""
    lrs = sorted({lr for per_lr in results.values() for lr in per_lr})
    methods = list(results)
    lines = [f"{'lr':<8}" + "".join(f"{m:<26}" for m in methods)]
    for lr in lrs:
        cells = []
        for m in methods:
            accs = results[m][lr]
            cells.append(f"{np.mean(accs):.4f} ({min(accs):.4f}-{max(accs):.4f})")
        lines.append(f"{lr:<8g}" + "".join(f"{c:<26}" for c in cells))
    best = {m: max(results[m], key=lambda lr: np.mean(results[m][lr])) for m in methods}
    lines.append("best:   " + "".join(
        f"{f'{np.mean(results[m][best[m]]):.4f} at lr {best[m]:g}':<26}" for m in methods))
    return "\n".join(lines)


def main(argv=None) -> dict[str, dict[float, list[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-samples", type=int, default=3000)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="fine-tuning and scratch epochs")
    parser.add_argument("--unfreeze-epoch", type=int, default=2)
    parser.add_argument("--val-fraction", type=float, default=0.8, help="share of digits held out")
    parser.add_argument("--lrs", type=_floats, default=[3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
                        help="comma-separated base learning rates, each tried for both methods")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (init and shuffling) per method and lr")
    parser.add_argument("--weights", default=None, help="where to save the pre-trained .npz (reused if it exists)")
    args = parser.parse_args(argv)

    results: dict[str, dict[float, list[float]]] = {"fine-tuned": {}, "from scratch": {}}
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(args.weights or Path(tmp) / "pretrained_shapes.npz")
        if weights.is_file():
            print(f"pre-trained weights: reusing {weights}")
        else:
            acc = pretrain(weights, args.pretrain_samples, args.pretrain_epochs, lr=3e-3, weight_decay=0.05)
            print(f"pre-trained on shapes: val accuracy {acc:.4f}, weights saved to {weights}")
        splits = digits(val_fraction=args.val_fraction)
        print(f"digits: {len(splits.train)} training / {len(splits.val)} validation images")
        for lr in args.lrs:
            for seed in range(args.seeds):
                first = lr == args.lrs[0] and seed == 0
                ft = finetune(weights, splits, args.epochs, lr, 0.05, args.unfreeze_epoch, seed=seed, verbose=first)
                sc = scratch(splits, args.epochs, lr, 0.05, seed=seed)
                results["fine-tuned"].setdefault(lr, []).append(ft)
                results["from scratch"].setdefault(lr, []).append(sc)
                print(f"lr {lr:g} seed {seed}: fine-tuned {ft:.4f}, from scratch {sc:.4f}", flush=True)
    print(f"\nval accuracy on digits after {args.epochs} epochs, mean (min-max) over {args.seeds} seeds:")
    print(summary(results))
    return results


if __name__ == "__main__":
    main()
