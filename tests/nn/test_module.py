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


# ---------------------------------------------------------------- train() recursion
class _FrozenNorm(nn.BatchNorm1d):
    """A child that overrides train() to stay in eval mode (a common fine-tuning trick)."""

    def train(self, mode: bool = True):
        return super().train(False)


def test_train_recurses_through_each_childs_own_train():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(_FrozenNorm(3), nn.ReLU()))
    model.train()
    assert model.training and model[0].training and model[1].training
    assert not model[1][0].training, "the child's train() override must be honoured"
    assert model[1][1].training
    model.eval()
    assert not any(m.training for m in model.modules())


def test_train_mode_must_be_boolean():
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        nn.Linear(2, 2).train("no")


# ---------------------------------------------------------------- to(dtype) forms
@pytest.mark.parametrize(
    "call",
    [
        lambda m, d: m.to(np.float64),
        lambda m, d: m.to(dtype=np.float64),
        lambda m, d: m.to(d, np.float64),
        lambda m, d: m.to(d, dtype="float64"),
        lambda m, d: m.to(device=d, dtype=np.float64, non_blocking=True),
        lambda m, d: m.to(trainkit.zeros(1, dtype=np.float64, device=d)),
    ],
    ids=["dtype_positional", "dtype_keyword", "device_dtype", "device_dtype_kw", "keywords", "tensor"],
)
def test_to_accepts_torch_argument_forms(call, device):
    net = Net()
    assert call(net, device) is net
    assert all(p.dtype == np.float64 and str(p.device).startswith(device) for p in net.parameters())
    assert net.features[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    out = net(trainkit.randn(2, 1, 4, 4, dtype=np.float64, device=device))
    assert out.dtype == np.float64


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m.to(np.int64), TypeError, "floating point or complex dtypes.*int64"),
        (lambda m: m.to("cpu", "cpu"), TypeError, "second argument"),
        (lambda m: m.to(devcie="cpu"), TypeError, "devcie"),
    ],
)
def test_to_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(nn.Linear(2, 2))


# ---------------------------------------------------------------- device mismatch names the parameter
class _FakeArray:
    """Stands in for a parameter array on a GPU (no GPU needed): only the op-level check sees it."""

    def __init__(self, device, shape):
        self.device_name, self.shape, self.ndim = device, shape, len(shape)
        self.dtype = np.dtype(np.float32)


@pytest.fixture
def fake_devices(monkeypatch):
    from trainkit.autograd import function
    from trainkit.backend import Device
    from trainkit.nn import placement

    def device_of(array):
        data = getattr(array, "data", array)
        return Device(data.device_name) if isinstance(data, _FakeArray) else Device("cpu")

    monkeypatch.setattr(function, "device_of", device_of)
    monkeypatch.setattr(placement, "device_of", device_of)


def test_device_mismatch_names_the_parameter_by_its_state_dict_key(fake_devices):
    from trainkit.backend import DeviceMismatchError

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    model[0].weight.data = _FakeArray("cuda:0", (3, 2))
    with pytest.raises(DeviceMismatchError, match=r"parameter '0\.weight' .*cuda:0.*input is on cpu") as info:
        model(trainkit.randn(4, 2))
    assert info.value.parameter_name == "0.weight"
    with pytest.raises(DeviceMismatchError, match=r"parameter 'weight' \(Linear\) is on cuda:0"):
        model[0](trainkit.randn(4, 2))


def test_device_mismatch_deep_in_the_model_gets_the_full_path(fake_devices):
    from trainkit.backend import DeviceMismatchError

    net = Net()
    net.head.bias.data = _FakeArray("cuda:1", (3,))
    with pytest.raises(DeviceMismatchError, match=r"parameter 'head\.bias' \(Linear 'head'\) is on cuda:1"):
        net(trainkit.randn(2, 1, 4, 4))


@pytest.mark.gpu
@pytest.mark.skipif(not trainkit.backend.cuda_available(), reason="needs a GPU")
def test_model_on_gpu_with_cpu_input_names_the_parameter():
    from trainkit.backend import DeviceMismatchError

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).to("cuda")
    with pytest.raises(DeviceMismatchError, match=r"'0\.weight'.*cuda:0.*cpu"):
        model(trainkit.randn(4, 2))
