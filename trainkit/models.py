"""The built-in models the ``model=`` config group selects: ``mlp``, ``linear`` and ``cnn``.

They are ordinary ``trainkit.nn.Module`` subclasses, usable from Python as well.
Sizes that depend on the data (``in_features``, ``num_classes``, ``in_channels``,
``image_size``) are filled in from the dataset by ``trainkit.compose`` when the
config leaves them ``null``. Parameter names follow PyTorch's ``Sequential``
numbering (``layers.0.weight``), so weights move to and from torch as plain arrays.
"""
from __future__ import annotations

from collections.abc import Sequence

from . import nn

__all__ = ["MLP", "LinearModel", "CNN"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")


def _activation(name: str | None):
    """A fresh activation module for ``name``; ``None`` means no activation."""
    if name is None:
        return None
    table = {
        "relu": "ReLU",
        "tanh": "Tanh",
        "sigmoid": "Sigmoid",
        "gelu": "GELU",
        "leaky_relu": "LeakyReLU",
    }
    if name not in table:
        raise ValueError(f"activation={name!r} is not supported; choose one of {', '.join(_ACTIVATIONS)} or null")
    return getattr(nn, table[name])()


def _require(name: str, value) -> int:
    """Validate a size argument: a positive int, with a message naming the argument."""
    if value is None:
        raise ValueError(f"{name} is required (null was given and could not be inferred from the data)")
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear -> activation (-> Dropout)`` per hidden layer, then a linear head.

    Inputs with more than one feature dimension are flattened, so the same model
    takes 2-D points (``spirals``) or images (``mnist``).

    Args:
        in_features: size of one flattened input sample.
        num_classes: number of outputs (classes for classification, targets for regression).
        hidden_sizes: width of each hidden layer, input side first.
        activation: ``relu``, ``tanh``, ``sigmoid``, ``gelu``, ``leaky_relu`` or ``None``.
        dropout: dropout probability after each hidden activation (0 disables it).

    >>> MLP(2, 3, hidden_sizes=(8,)).layers[0].weight.shape
    (8, 2)
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str | None = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        in_features = _require("in_features", in_features)
        num_classes = _require("num_classes", num_classes)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        layers = []
        width = in_features
        for i, h in enumerate(hidden_sizes):
            h = _require(f"hidden_sizes[{i}]", h)
            layers.append(nn.Linear(width, h))
            act = _activation(activation)
            if act is not None:
                layers.append(act)
            if dropout:
                layers.append(nn.Dropout(float(dropout)))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim > 2:
            x = self.flatten(x)
        return self.layers(x)


class LinearModel(nn.Module):
    """One ``Linear`` layer: linear regression (``y = 3x + 0.8``) or a logistic-regression head.

    Args:
        in_features: size of one input sample (flattened).
        num_classes: number of outputs (named like the other models so the data fills it in).
        bias: whether the layer has a bias.
    """

    def __init__(self, in_features: int, num_classes: int = 1, bias: bool = True):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(_require("in_features", in_features), _require("num_classes", num_classes), bias=bias)

    def forward(self, x):
        if x.ndim > 2:
            x = self.flatten(x)
        return self.linear(x)


class CNN(nn.Module):
    """The classic CIFAR-10 network of the PyTorch tutorials, sized for any square image.

    ``features``: per entry of ``channels`` a ``Conv2d(kernel_size, padding=kernel_size // 2)``
    (optionally followed by an activation) and ``MaxPool2d(2)``; then ``classifier``:
    ``Linear(flat, hidden) -> Linear(hidden, num_classes)``. With the defaults and a 32x32
    RGB input it is the tutorial's ``Conv(3,32,5) Pool Conv(32,32,5) Pool Conv(32,64,5)
    Pool Flatten Linear(1024,64) Linear(64,10)``. The split into ``features`` and
    ``classifier`` is what fine-tuning rules match (``freeze: ['features.*']``).

    Args:
        in_channels: channels of the input images.
        num_classes: number of classes.
        image_size: height (= width) of the input images.
        channels: output channels of each convolution.
        kernel_size: odd convolution kernel size (padding keeps the spatial size).
        hidden: width of the hidden classifier layer.
        activation: activation after each convolution and the hidden layer, or ``None``
            (the tutorial's network has none).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int = 32,
        channels: Sequence[int] = (32, 32, 64),
        kernel_size: int = 5,
        hidden: int = 64,
        activation: str | None = None,
    ):
        super().__init__()
        in_channels = _require("in_channels", in_channels)
        num_classes = _require("num_classes", num_classes)
        size = _require("image_size", image_size)
        kernel_size = _require("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so padding keeps the image size, got {kernel_size}")
        if not channels:
            raise ValueError("channels must list at least one convolution")
        features = []
        width = in_channels
        for i, c in enumerate(channels):
            c = _require(f"channels[{i}]", c)
            features.append(nn.Conv2d(width, c, kernel_size, padding=kernel_size // 2))
            act = _activation(activation)
            if act is not None:
                features.append(act)
            if size < 2:
                raise ValueError(
                    f"image_size={image_size} is too small for {len(channels)} pooling stages "
                    "(each halves it); use fewer channels entries"
                )
            features.append(nn.MaxPool2d(2))
            size //= 2
            width = c
        hidden = _require("hidden", hidden)
        head = [nn.Linear(width * size * size, hidden)]
        act = _activation(activation)
        if act is not None:
            head.append(act)
        head.append(nn.Linear(hidden, num_classes))
        self.features = nn.Sequential(*features)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))
