"""An image classifier: the classic CIFAR-10 CNN, with StepLR and gradient clipping.

Trains ``trainkit.models.CNN`` (Conv 5x5 -> MaxPool three times, then two Linear
layers: the network of PyTorch's CIFAR-10 tutorial) with the tutorial's loop:
``zero_grad``, ``backward``, ``clip_grad_norm_``, ``step``, and a ``StepLR``
stepped once per epoch. By default it uses the built-in ``shapes`` images
(circles, squares, triangles; generated, no download); with ``--data-root`` it
reads the real CIFAR-10 binary batches (``data_batch_1.bin`` ... ``test_batch.bin``)::

    python examples/cnn_shapes.py
    python examples/cnn_shapes.py --data-root ~/data/cifar-10-batches-bin --epochs 20 --channels 32 32 64

The same run from the command line: ``trainkit train experiment=cnn_shapes``
(``trainkit train experiment=cnn_cifar10 data.root=...`` for CIFAR-10).
"""
from __future__ import annotations

import argparse
import time

import trainkit
from trainkit import nn, optim
from trainkit.data import DataLoader, cifar10, shapes
from trainkit.models import CNN
from trainkit.optim.lr_scheduler import StepLR


def evaluate(model, loader) -> float:
    """Accuracy of ``model`` on ``loader``."""
    model.eval()
    correct = total = 0
    with trainkit.no_grad():
        for images, labels in loader:
            predicted = model(images).argmax(dim=1)
            correct += int((predicted == labels).sum().item())
            total += int(labels.shape[0])
    model.train()
    return correct / max(total, 1)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR-10 binary batches")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--n-samples", type=int, default=1200, help="shapes only: images generated")
    parser.add_argument("--image-size", type=int, default=16, help="shapes only: image height/width")
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 16, 32])
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    parser.add_argument("--step-size", type=int, default=5, help="StepLR: halve the lr every this many epochs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args(argv)

    trainkit.manual_seed(0)
    if args.data_root:
        splits = cifar10(root=args.data_root)
    else:
        splits = shapes(n_samples=args.n_samples, image_size=args.image_size)
    channels, size, _ = splits.input_shape
    train_loader = DataLoader(splits.train, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(splits.val, batch_size=256)

    device = trainkit.Device(args.device)
    model = CNN(in_channels=channels, num_classes=splits.num_classes, image_size=size,
                channels=args.channels).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=args.step_size, gamma=0.5)
    print(f"{splits.name}: {len(splits.train)} training images of shape {tuple(splits.input_shape)}, "
          f"{splits.num_classes} classes, device {device}")

    for epoch in range(args.epochs):
        start, running, batches = time.perf_counter(), 0.0, 0
        clipped, max_norm = 0, 0.0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            # returns the norm before clipping: above args.clip means this update was scaled down
            norm = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.clip))
            clipped += norm > args.clip
            max_norm = max(max_norm, norm)
            optimizer.step()
            running += loss.item()
            batches += 1
        scheduler.step()
        accuracy = evaluate(model, _on(val_loader, device))
        print(f"epoch {epoch + 1:2d}  loss {running / batches:.4f}  val accuracy {accuracy:.3f}  "
              f"lr {scheduler.get_last_lr()[0]:.4g}  clipped {clipped}/{batches} (max grad norm {max_norm:.3g})  "
              f"({time.perf_counter() - start:.1f}s)")
    print(f"final val accuracy {accuracy:.4f}")
    return accuracy


def _on(loader, device):
    """Batches of ``loader`` moved to ``device``."""
    for images, labels in loader:
        yield images.to(device), labels.to(device)


if __name__ == "__main__":
    main()
