"""Module behaviour: registration, traversal, modes, devices, state dicts and repr."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.head = nn.Linear(8, 3)
        self.register_buffer("scale", np.ones(3, dtype=np.float32))
        self.register_buffer("cache", np.zeros(2, dtype=np.float32), persistent=False)

    def forward(self, x):
        return self.head(self.features(x).reshape(x.shape[0], -1)) * self.scale


def test_named_parameters_are_dotted_and_in_registration_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "head.weight", "head.bias"]


def test_buffers_state_dict_and_non_persistent():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    keys = list(net.state_dict())
    assert "cache" not in keys and "scale" in keys
    assert keys[-2:] == ["head.weight", "head.bias"]


def test_children_modules_and_named_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1", "features.2", "head"]
    assert len(list(net.modules())) == 6
    assert net.get_submodule("features.1") is net.features[1]
    with pytest.raises(AttributeError, match="'nope'"):
        net.get_submodule("features.nope")


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_train_eval_propagate():
    net = Net().eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_requires_grad_and_zero_grad():
    net = Net()
    x = trainkit.randn(2, 1, 4, 4)
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(np.abs(p.grad).sum()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_device_keeps_parameter_objects(device):
    net = Net()
    before = list(net.parameters())
    net.to(device)
    assert [id(p) for p in net.parameters()] == [id(p) for p in before]
    assert all(str(p.device).startswith(device) for p in net.parameters())
    out = net(trainkit.randn(2, 1, 4, 4, device=device))
    assert out.shape == (2, 3)


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 1 and "BatchNorm2d" in seen


def test_load_state_dict_roundtrip():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


def test_load_state_dict_mismatch_lists_everything_and_changes_nothing():
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    bad = {k: np.full_like(v, 7) for k, v in before.items()}
    del bad["head.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["head.weight"] = np.zeros((3, 9), dtype=np.float32)
    with pytest.raises(nn.StateDictMismatchError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "head.bias" in msg and "extra.weight" in msg and "head.weight" in msg and "(3, 9)" in msg
    assert info.value.missing_keys == ["head.bias"]
    assert info.value.unexpected_keys == ["extra.weight"]
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")


def test_load_state_dict_non_strict_reports_keys():
    net = Net()
    sd = net.state_dict()
    partial = {"head.weight": np.ones_like(sd["head.weight"]), "junk": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.unexpected_keys == ["junk"] and "head.bias" in result.missing_keys
    assert float(net.head.weight.data.sum()) == sd["head.weight"].size


def test_repr_tree_matches_torch_style():
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=64, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=64, out_features=1, bias=True)\n"
        ")"
    )


@pytest.mark.torch
def test_repr_of_layers_equals_torch(torch):
    pairs = [
        ("Linear", (3, 4), {"bias": False}),
        ("Conv2d", (3, 8, 5), {"padding": 2}),
        ("Conv2d", (4, 8, 3), {"stride": 2, "dilation": 2, "groups": 2, "bias": False}),
        ("MaxPool2d", (2,), {}),
        ("BatchNorm2d", (4,), {}),
        ("LayerNorm", (5,), {}),
        ("Dropout", (0.25,), {}),
        ("Embedding", (10, 3), {"padding_idx": 0}),
        ("Flatten", (), {}),
        ("LeakyReLU", (0.2,), {}),
        ("GELU", (), {"approximate": "tanh"}),
        ("Softmax", (), {"dim": 1}),
        ("AdaptiveAvgPool2d", ((1, 1),), {}),
    ]
    for name, args, kwargs in pairs:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_assigning_non_parameter_to_parameter_slot_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        lin.weight = np.zeros((2, 2))
