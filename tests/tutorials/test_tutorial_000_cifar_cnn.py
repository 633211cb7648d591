"""Tutorial 000_48d20e92167814bb.txt ("pytorch学习(7)——神经网络优化器torch.optim").

Its two code snippets (one pass of SGD over CIFAR-10 with a debugger's view of
``grad``/``data``, then 20 epochs printing ``running_loss``), run with the
imports renamed. Besides the imports, what differs is what trainkit
deliberately lacks and the size: torchvision's CIFAR-10 test set becomes the
built-in CIFAR-sized ``shapes`` images (3x32x32, from ``trainkit.data``; no
torchvision, no download), 8 images instead of 10,000, 3 epochs instead of 20.
"""
from __future__ import annotations

import numpy as np

# 000_48d20e92167814bb.txt: ``import torchvision`` / ``import torch`` / ``from torch import nn, optim`` /
# ``from torch.nn import ...`` / ``from torch.utils.data import DataLoader`` /
# ``from torch.utils.tensorboard import SummaryWriter``, renamed:
import trainkit as torch
from trainkit import nn, optim
from trainkit.nn import Linear, Conv2d, MaxPool2d, Flatten, Sequential, CrossEntropyLoss
from trainkit.utils.data import DataLoader
from trainkit.utils.tensorboard import SummaryWriter
from trainkit.data import shapes  # stands in for torchvision.datasets.CIFAR10


def cifar10_test_set():
    # tutorial: torchvision.datasets.CIFAR10(root=..., train=False, transform=ToTensor(), download=False)
    return shapes(n_samples=40, val_fraction=0.2, seed=0).val  # 8 CIFAR-sized images


# 000_48d20e92167814bb.txt, 1.1.1 and 1.1.2: the network, verbatim
class MYNN(nn.Module):
    def __init__(self):
        super(MYNN, self).__init__()
        self.model1 = Sequential(
            Conv2d(3, 32, 5, padding=2, stride=1),
            MaxPool2d(2),
            Conv2d(32, 32, 5, padding=2, stride=1),
            MaxPool2d(2),
            Conv2d(32, 64, 5, padding=2, stride=1),
            MaxPool2d(2),
            Flatten(),
            Linear(1024, 64),
            Linear(64, 10)
        )

    def forward(self, x):
        x = self.model1(x)
        return x


def test_one_pass_of_sgd_and_what_the_debugger_shows():
    """000_48d20e92167814bb.txt, 1.1.1: the loop, and the (1)-(5) breakpoint observations."""
    torch.manual_seed(0)
    dataset = cifar10_test_set()
    dataloader = DataLoader(dataset, batch_size=1)
    loss = CrossEntropyLoss()
    mynn = MYNN()
    opitm = optim.SGD(mynn.parameters(), lr=0.01)        # 优化器
    # the debugger's path: mynn -> _modules -> 'model1' -> _modules -> '0' -> bias -> grad / data
    conv0 = mynn._modules['model1']._modules['0']
    seen = []
    for data in dataloader:
        imgs, targets = data
        outputs = mynn(imgs)
        result_loss = loss(outputs, targets)
        opitm.zero_grad()       # 梯度清零,设置断点
        assert conv0.bias.grad is None and conv0.weight.grad is None  # (5): zero_grad cleared them
        result_loss.backward()  # 反向传播,求出每个节点的梯度,设置断点
        grad = conv0.bias.grad  # (1), (2): a Tensor now, as in torch
        assert isinstance(grad, torch.Tensor) and grad.shape == (32,) and np.isfinite(grad.numpy()).all()
        before = conv0.bias.data.numpy().copy()  # (3), (4): .data is a Tensor sharing the weights
        opitm.step()            # 对神经网络模型的参数进行调优,设置断点
        after = conv0.bias.data.numpy()
        np.testing.assert_allclose(after, before - 0.01 * grad.numpy(), rtol=1e-5, atol=1e-7)
        seen.append(float(result_loss))
    assert len(seen) == len(dataset) == 8


def test_epochs_print_running_loss(capsys, tmp_path):
    """000_48d20e92167814bb.txt, 1.1.2: ``running_loss = running_loss + result_loss`` printed each epoch."""
    torch.manual_seed(0)
    dataset = cifar10_test_set()
    dataloader = DataLoader(dataset, batch_size=1)
    writer = SummaryWriter(str(tmp_path))  # imported by the tutorial; here it also logs each epoch
    loss = CrossEntropyLoss()
    mynn = MYNN()
    opitm = optim.SGD(mynn.parameters(), lr=0.01)        # 优化器
    for epoch in range(3):  # tutorial: range(20)
        running_loss = 0.0
        for data in dataloader:
            imgs, targets = data
            outputs = mynn(imgs)
            result_loss = loss(outputs, targets)
            opitm.zero_grad()       # 梯度清零
            result_loss.backward()  # 反向传播,求出每个节点的梯度
            opitm.step()            # 对神经网络模型的参数进行调优
            running_loss = running_loss + result_loss#.data
        print(running_loss)
        writer.add_scalar("running_loss", running_loss, epoch)
    writer.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line in lines:  # "tensor(18746.2012, grad_fn=<AddBackward0>)" in the tutorial's run
        assert line.startswith("tensor(") and "grad_fn=<AddBackward" in line
    values = [float(line[len("tensor("):].split(",")[0]) for line in lines]
    assert all(np.isfinite(values)) and values[-1] < values[0]  # the sum over 8 images falls
    assert list(tmp_path.glob("events.out.tfevents.*"))
