"""Tutorial 001_e7af181bf66f3aca.txt ("PyTorch torch.optim 优化器模块").

Each snippet with ``import torch`` renamed. The tutorial leaves its model, data
and helpers undefined (``MyModel``, ``inputs``, ``labels``, ``criterion``,
``epochs``, ``train(...)``, ``validate(...)``, ``model.base``,
``model.classifier``); the fixtures below define small ones. Sizes: the StepLR
loop runs its 100 epochs on a tiny model.
"""
from __future__ import annotations

import numpy as np
import pytest

# 001_e7af181bf66f3aca.txt: ``import torch`` / ``import torch.optim as optim`` /
# ``from torch.optim.lr_scheduler import StepLR``, renamed:
import trainkit as torch
import trainkit.optim as optim
from trainkit import nn
from trainkit.optim.lr_scheduler import StepLR


class MyModel(nn.Module):
    """What the tutorial calls ``MyModel``: a ``base`` and a ``classifier`` (used by 4.2)."""

    def __init__(self):
        super().__init__()
        self.base = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.base(x))


@pytest.fixture
def setup():
    torch.manual_seed(0)
    inputs = torch.randn(16, 4)
    labels = torch.tensor(np.arange(16) % 3)
    return inputs, labels, nn.CrossEntropyLoss()


def test_basic_usage(setup):
    """001_e7af181bf66f3aca.txt, 2.1 基本使用流程."""
    inputs, labels, criterion = setup
    epochs = 20
    # 1. 定义模型
    model = MyModel()

    # 2. 创建优化器实例
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    # 3. 训练循环
    losses = []
    for epoch in range(epochs):
        # 前向传播
        outputs = model(inputs)
        loss = criterion(outputs, labels)

        # 反向传播
        optimizer.zero_grad()  # 清空梯度
        loss.backward()        # 计算梯度

        # 参数更新
        optimizer.step()       # 更新参数
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    # 2.2: state_dict() / load_state_dict() save and restore the optimizer
    again = optim.Adam(model.parameters(), lr=0.001)
    again.load_state_dict(optimizer.state_dict())
    assert again.state_dict()["state"][0]["step"] == epochs


def test_sgd_and_adam_signatures():
    """001_e7af181bf66f3aca.txt, 3.1 and 3.2: the documented calls with every default spelt out."""
    params = list(MyModel().parameters())
    sgd = optim.SGD(params, lr=0.01, momentum=0,  dampening=0,
              weight_decay=0, nesterov=False)
    adam = optim.Adam(params, lr=0.001, betas=(0.9, 0.999),
               eps=1e-08, weight_decay=0, amsgrad=False)
    assert sgd.defaults["lr"] == 0.01 and adam.defaults["betas"] == (0.9, 0.999)


def test_step_lr_schedule(setup):
    """001_e7af181bf66f3aca.txt, 4.1 学习率调度."""
    inputs, labels, criterion = setup
    model = MyModel()
    seen = []

    def train(*_):
        optimizer.zero_grad()
        criterion(model(inputs), labels).backward()
        optimizer.step()
        seen.append(optimizer.param_groups[0]["lr"])

    def validate(*_):
        pass

    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)

    for epoch in range(100):
        train(...)
        validate(...)
        scheduler.step()  # 更新学习率
    np.testing.assert_allclose([seen[0], seen[30], seen[60], seen[90]], [0.1, 0.01, 0.001, 0.0001], rtol=1e-12)


def test_param_groups():
    """001_e7af181bf66f3aca.txt, 4.2 参数分组优化."""
    model = MyModel()
    optimizer = optim.SGD([
        {'params': model.base.parameters()},  # 基础层
        {'params': model.classifier.parameters(), 'lr': 1e-3}  # 分类层
    ], lr=1e-2)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-2, 1e-3]


def test_clip_grad_norm(setup, capsys):
    """001_e7af181bf66f3aca.txt, 4.3 梯度裁剪; its return value prints (it used to raise)."""
    inputs, labels, criterion = setup
    model = MyModel()
    criterion(model(inputs), labels).backward()
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    print(total)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("tensor(") and float(total) > 0
    norm = np.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in model.parameters()))
    assert norm == pytest.approx(min(float(total), 1.0), rel=1e-5)
