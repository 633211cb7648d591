"""``trainkit.nn.functional`` (imported as ``F``): stateless layer and loss functions.

Heavy layer ops are fused autograd nodes (one ``Function`` with a closed-form
backward on raw arrays) rather than chains of small ops: fewer graph nodes,
fewer temporaries, and BLAS doing the work where it can (``linear``, ``conv2d``).
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .conv import conv2d
from .dropout import dropout
from .embedding import embedding
from .linear import linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import batch_norm, layer_norm
from .pooling import adaptive_avg_pool2d, avg_pool2d, flatten, max_pool2d

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "flatten",
    "gelu",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "smooth_l1_loss",
    "softmax",
    "tanh",
]
