"""Tutorial 002_b57ccd68b46650c8.txt ("pytorch---损失函数和优化器"), every snippet.

The tutorial writes ``import torch as t``; here ``import trainkit as t``. It
leaves ``net`` and ``input`` undefined: ``Net`` below has the ``features`` and
``classifier`` (indexable, ``classifier[0]`` and ``classifier[3]`` being Linear)
its snippets use. Two lines of the tutorial cannot run in torch either and are
tested as such: ``t.Tensor([1,0,1].long())`` (a list has no ``.long()``); its
``import optim`` is ``from trainkit import optim`` here (``from torch import
optim`` in torch), and ``ptimizer=`` is its typo for ``optimizer=``.
"""
from __future__ import annotations

import numpy as np
import pytest

# 002_b57ccd68b46650c8.txt: ``import torch as t``, ``from torch import nn`` and (2) ``from torch import optim``
import trainkit as t
from trainkit import nn
from trainkit import optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(3, 6), nn.ReLU())
        self.classifier = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.0), nn.Linear(5, 2))

    def forward(self, x):
        return self.classifier(self.features(x))


def test_loss_function():
    """002_b57ccd68b46650c8.txt, 一、损失函数."""
    t.manual_seed(0)
    score=t.randn(3,2) #batch_size=3,类别是2.
    with pytest.raises(AttributeError, match="'list' object has no attribute 'long'"):
        label=t.Tensor([1,0,1].long()) # the tutorial's line: no library can run it
    label=t.Tensor([1,0,1]).long() # what it means: label必须得是longTensor
    criterion=nn.CrossEntropyLoss() #CroosEntropyLoss是常用的二分类损失函数
    loss=criterion(score,label)
    assert label.dtype == np.int64 and loss.shape == () and float(loss) > 0


def test_basic_use_of_an_optimizer():
    """002_b57ccd68b46650c8.txt, 二、1 优化方法基本使用 (``output.backward(output)``)."""
    # tutorial: ``import optim`` (torch has no top-level ``optim`` either): ``from trainkit import optim`` above
    net = Net()
    input = t.randn(4, 3)
    before = [p.data.numpy().copy() for p in net.parameters()]
    optimizer=optim.SGD(params=net.parameters(),lr=0.1)  # tutorial: ptimizer= (a typo)
    optimizer.zero_grad() #梯度清零
    output=net(input)
    output.backward(output)
    optimizer.step()
    moved = [not np.array_equal(b, p.data.numpy()) for b, p in zip(before, net.parameters())]
    assert any(moved)


def test_per_layer_learning_rates():
    """002_b57ccd68b46650c8.txt, 二、2 如何为不同的层设置不同的学习率 (法1 and 法2)."""
    net = Net()
    # 法1
    # 为不同子网络设置不同的学习率,在finetune中经常用到
    # 如果对某个参数不指定学习率,就使用最外层的默认学习率
    optimizer =optim.SGD([
    {'params': net.features.parameters()}, # 学习率为1e-5
    {'params': net.classifier.parameters(), 'lr': 1e-2}
    ], lr=1e-5)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-5, 1e-2]
    # 法2
    # 只为两个全连接层设置较大的学习率,其余层的学习率较小
    special_layers = nn.ModuleList([net.classifier[0], net.classifier[3]])
    special_layers_params = list(map(id, special_layers.parameters()))
    base_params = filter(lambda p: id(p) not in special_layers_params,
    net.parameters())
    optimizer = t.optim.SGD([
    {'params': base_params},
    {'params': special_layers.parameters(), 'lr': 0.01}
    ], lr=0.001 )
    optimizer
    shown = repr(optimizer)  # what the notebook cell displays, as torch's: "SGD (\nParameter Group 0 ..."
    assert shown.startswith("SGD (\nParameter Group 0\n") and "Parameter Group 1" in shown
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 4]


def test_adjusting_the_learning_rate():
    """002_b57ccd68b46650c8.txt, 二、3 如何调整学习率 (法1 new optimizer, 法2 edit param_groups)."""
    net = Net()
    # 法1
    old_lr = 0.1
    optimizer1 =optim.SGD([
    {'params': net.features.parameters()},
    {'params': net.classifier.parameters(), 'lr': old_lr*0.1}
    ], lr=1e-5)
    optimizer1
    # 方法2: 调整学习率, 手动decay, 保存动量
    optimizer = optimizer1
    for param_group in optimizer.param_groups:
        param_group['lr'] *= 0.1 # 学习率为之前的0.1倍
    optimizer
    np.testing.assert_allclose([g["lr"] for g in optimizer.param_groups], [1e-6, 1e-3], rtol=1e-12)


def test_module_or_functional():
    """002_b57ccd68b46650c8.txt: nn.Linear against nn.functional.linear, nn.ReLU against F.relu."""
    input = t.randn(2, 3)
    model = nn.Linear(3, 4)
    output1 = model(input)
    output2 = nn.functional.linear(input, model.weight, model.bias)
    assert (output1 == output2).all()
    b = nn.functional.relu(input)
    b2 = nn.ReLU()(input)
    assert (b == b2).all()
