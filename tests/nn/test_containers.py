"""Sequential, ModuleList and ModuleDict."""
from __future__ import annotations

import pytest

import trainkit
from trainkit import nn


def test_sequential_indexing_slicing_len_append():
    seq = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    assert len(seq) == 3
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear) and seq[-1] is seq[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    assert head(trainkit.randn(3, 2)).shape == (3, 4)
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    assert seq(trainkit.randn(5, 2)).shape == (5, 1)
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    with pytest.raises(TypeError, match="not a trainkit.nn.Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_sequential_names_parameters_like_torch():
    seq = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_dict_keeps_names():
    seq = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.Tanh()})
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(seq[1], nn.Tanh)


def test_sequential_del_and_insert_renumber():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    del seq[0]
    assert [type(m).__name__ for m in seq] == ["Tanh", "Sigmoid"]
    seq.insert(0, nn.Identity())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    assert type(seq[0]).__name__ == "Identity"


def test_module_list_registers_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.layers.append(nn.Linear(3, 1))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Net()
    assert len(net.layers) == 3
    assert [n for n, _ in net.named_parameters()][-2:] == ["layers.2.weight", "layers.2.bias"]
    assert isinstance(net.layers[1:], nn.ModuleList) and len(net.layers[1:]) == 2
    assert net(trainkit.randn(2, 3)).shape == (2, 1)


def test_module_dict():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3)})
    d["dec"] = nn.Linear(3, 2)
    assert list(d.keys()) == ["enc", "dec"] and "dec" in d and len(d) == 2
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    with pytest.raises(KeyError, match="'missing'"):
        d["missing"]
    assert isinstance(d.pop("enc"), nn.Linear) and list(d) == ["dec"]
