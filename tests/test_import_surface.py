"""Pin trainkit's public import surface, so a rename or a lost re-export fails loudly.

Add names here as the package grows (nn, optim, data ... pin their own lists).
"""
from __future__ import annotations

import subprocess
import sys

import pytest

import trainkit

TOP_LEVEL = [
    # tensors and autograd
    "Tensor", "tensor", "from_numpy", "no_grad", "enable_grad", "is_grad_enabled",
    "set_grad_enabled", "GraphFreedError", "ShapeError",
    # factories and randomness
    "zeros", "ones", "empty", "full", "eye", "arange", "linspace", "randn", "rand", "randint",
    "zeros_like", "ones_like", "full_like", "randn_like", "rand_like", "manual_seed",
    "get_rng_state", "set_rng_state",
    # dtypes
    "float32", "float64", "float16", "int64", "int32", "long", "bool",
    # devices
    "device", "Device", "DeviceMismatchError", "CudaUnavailableError", "cuda_available",
    "cuda_unavailable_reason",
    # functional ops
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "abs", "tanh",
    "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "where", "sum", "mean", "var",
    "std", "max", "min", "amax", "amin", "argmax", "argmin", "softmax", "log_softmax",
    "logsumexp", "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "cat",
    "concat", "stack", "split", "chunk", "unbind", "broadcast_to", "clone", "eq", "ne", "lt",
    "le", "gt", "ge", "isfinite", "isnan",
    # torch.cuda / torch.utils paths (trainkit.cuda, trainkit.utils.data, trainkit.utils.tensorboard)
    "cuda", "utils",
    # plugins
    "hookimpl",
    # pretrained weights (trainkit.weights; imports safetensors only when called)
    "save_safetensors",
]

TENSOR_API = [
    "data", "grad", "requires_grad", "backward", "detach", "item", "numpy", "cpu", "cuda", "to",
    "shape", "dtype", "ndim", "device", "size", "numel", "dim", "T", "mT", "is_leaf", "grad_fn",
    "float", "double", "long", "clone", "tolist", "requires_grad_", "zero_", "contiguous",
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "softmax",
    "log_softmax", "logsumexp", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp",
    "clip", "pow", "matmul", "reshape", "view", "view_as", "flatten", "squeeze", "unsqueeze",
    "transpose", "permute", "t", "expand", "expand_as", "split", "chunk", "unbind",
    "masked_fill", "add_", "sub_", "mul_", "div_", "fill_", "copy_", "normal_", "uniform_",
    "__getitem__", "__setitem__", "__iter__", "__matmul__", "__rpow__", "__isub__",
    "all", "any", "__format__",
    # the arrays underneath .data and .grad
    "array", "grad_array",
]

SUBMODULES = ["trainkit.autograd", "trainkit.autograd.ops", "trainkit.backend", "trainkit.nn", "trainkit.cuda",
              "trainkit.utils.data", "trainkit.utils.tensorboard"]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name_exists(name):
    assert hasattr(trainkit, name), f"trainkit.{name} is part of the public API"


@pytest.mark.parametrize("name", TENSOR_API)
def test_tensor_has_torch_named_attribute(name):
    assert hasattr(trainkit.Tensor, name) or hasattr(trainkit.zeros(1), name)


@pytest.mark.parametrize("module", SUBMODULES)
def test_submodule_imports(module):
    __import__(module)


def test_import_does_not_pull_heavy_optional_dependencies():
    code = (
        "import sys, trainkit; "
        "print(','.join(m for m in ('cupy', 'hydra', 'tensorboardX', 'torch', 'safetensors') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_future_import_leaks_into_the_namespace():
    assert not hasattr(trainkit, "annotations"), "`from __future__ import annotations` leaks trainkit.annotations"
