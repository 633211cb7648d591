"""Tutorial 003_9c3ca8b9d41fe8f8.txt (Module, optimizer, loss, linear regression, "在GPU上运行代码").

Every snippet with ``import torch`` / ``from torch import nn, optim`` renamed,
and ``from matplotlib import pyplot as plt`` replaced by ``tutorial_pyplot``
(matplotlib's Agg backend when installed; it also records what was plotted).
The full linear regression runs 6,000 of its 30,000 steps (its printout still
says ``/30000``). Snippets 1.1-1.3
use ``x``, ``x_true``, ``y_true`` and ``loss`` that the tutorial defines later;
the tests define them the way its complete program does.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

# 003_9c3ca8b9d41fe8f8.txt: ``import torch`` / ``from torch import nn`` / ``from torch import optim`` /
# ``import numpy as np`` / ``from matplotlib import pyplot as plt``, renamed:
import trainkit as torch
from trainkit import nn
from trainkit import optim
from tutorial_pyplot import pyplot as plt


# 003_9c3ca8b9d41fe8f8.txt, 1.1 nn.Module: the model of every snippet, verbatim
class Lr(nn.Module):
    def __init__(self):
        super(Lr, self).__init__()  # 继承父类init的参数
        self.linear = nn.Linear(1, 1)  # 1输入,1输出

    def forward(self, x):
        out = self.linear(x)
        return out


def test_module_sequential_optimizer_and_loss():
    """003_9c3ca8b9d41fe8f8.txt, 1.1 to 1.3: calling a model, nn.Sequential, the optimizer steps, MSELoss."""
    torch.manual_seed(0)
    x = torch.rand([50,1])
    x_true, y_true = x, x*3 + 0.8
    # 实例化模型
    model = Lr()
    # 传入数据,计算结果(见注意2.)
    predict = model(x)
    assert predict.shape == (50, 1)

    model = nn.Sequential(nn.Linear(2,64), nn.Linear(64, 1))
    assert model(torch.rand([5, 2])).shape == (5, 1)

    model = Lr()
    loss = nn.MSELoss()(model(x_true), y_true)
    optimizer = optim.SGD(model.parameters(), lr=1e-3) #1. 实例化
    optimizer.zero_grad() #2. 梯度置为0
    loss.backward() #3. 计算梯度
    optimizer.step() #4. 更新参数的值

    model = Lr() #1. 实例化模型
    criterion = nn.MSELoss() #2. 实例化损失函数
    optimizer = optim.SGD(model.parameters(), lr=1e-3) #3. 实例化优化器类
    losses = []
    for i in range(100):
        y_predict = model(x_true) #4. 向前计算预测值
        loss = criterion(y_true,y_predict) #5. 调用损失函数传入真实值和预测值,得到损失结果
        optimizer.zero_grad() #5. 当前循环参数梯度置为0
        loss.backward() #6. 计算梯度
        optimizer.step() #7. 更新参数的值
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_linear_regression_complete_program(capsys):
    """003_9c3ca8b9d41fe8f8.txt, 1.4 线性回归完整代码: the steps, then ``predict.data.numpy()`` and the plot."""
    torch.manual_seed(0)
    plt.calls.clear()
    started = time.perf_counter()
    # 1. 定义数据
    x = torch.rand([50,1])
    y = x*3 + 0.8
    #2 .定义模型
    class Lr(nn.Module):
        def __init__(self):
            super(Lr,self).__init__()
            self.linear = nn.Linear(1,1)

        def forward(self, x):
            out = self.linear(x)
            return out
    # 2. 实例化模型,loss,和优化器
    model = Lr()
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=1e-3)
    #3. 训练模型
    for i in range(6000):  # tutorial: range(30000)
        out = model(x) #3.1 获取预测值
        loss = criterion(y,out) #3.2 计算损失
        optimizer.zero_grad() #3.3 梯度归零
        loss.backward() #3.4 计算梯度
        optimizer.step() # 3.5 更新梯度
        if (i+1) % 20 == 0:
            print('Epoch[{}/{}], loss: {:.6f}'.format(i,30000,loss.data))
    #4. 模型评估
    model.eval() #设置模型为评估模式,即预测模式
    predict = model(x)
    predict = predict.data.numpy()
    plt.scatter(x.data.numpy(),y.data.numpy(),c="r")
    plt.plot(x.data.numpy(),predict)
    plt.show()

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 300 and lines[0].startswith("Epoch[19/30000], loss: ")
    assert float(lines[-1].rsplit(" ", 1)[1]) < 0.1 * float(lines[0].rsplit(" ", 1)[1])
    assert [name for name, _, _ in plt.calls] == ["scatter", "plot", "show"]
    for _, args, _ in plt.calls[:2]:
        assert all(type(a) is np.ndarray and a.shape == (50, 1) for a in args)
    w, b = float(model.linear.weight), float(model.linear.bias)
    assert 2.0 < w < 3.5 and 0.5 < b < 1.5  # on its way to y = 3x + 0.8 (lr=1e-3 is slow)
    assert time.perf_counter() - started < 120


def test_choosing_the_device():
    """003_9c3ca8b9d41fe8f8.txt, 2. 在GPU上运行代码: is_available, device, .to(device), back to numpy."""
    torch.cuda.is_available()
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    assert repr(device) in ("device(type='cuda', index=0)", "device(type='cpu')")  #使用gpu / 使用cpu
    model, x_true = Lr(), torch.rand([4, 1])
    model.to(device)
    x_true.to(device)
    predict = model(x_true.to(device))
    predict = predict.cpu().detach().numpy()
    assert type(predict) is np.ndarray and predict.shape == (4, 1)


def _gpu_program(place):
    """The tutorial's program "修改之后的代码"; ``place(x, y, device)`` is its line ``x,y = (device),(device)``."""
    # 1.定义数据
    x = torch.rand([50,1])
    y = x*3 + 0.8
    # 2.定义模型 (Lr above)
    # 2. 实例化模型,loss,和优化器
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    x,y = place(x, y, device)
    model = Lr().to(device)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=1e-3)
    #3. 训练模型
    for i in range(300):
        out = model(x)
        loss = criterion(y,out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i+1) % 20 == 0:
            print('Epoch[{}/{}], loss: {:.6f}'.format(i,30000,loss.data))
    #4. 模型评估
    model.eval() #
    predict = model(x)
    predict = predict.cpu().detach().numpy() #转化为numpy数组
    plt.scatter(x.cpu().data.numpy(),y.cpu().data.numpy(),c="r")
    plt.plot(x.cpu().data.numpy(),predict,)
    plt.show()
    return predict


def test_gpu_program_as_written_names_the_layer_and_what_it_got():
    """The tutorial's ``x,y = (device),(device)`` hands the model a device: the error says so."""
    with pytest.raises(TypeError) as info:
        _gpu_program(lambda x, y, device: ((device),(device)))
    message = str(info.value)
    assert "layer 'linear'" in message and "Linear(in_features=1, out_features=1" in message
    assert "got Device: device(type=" in message and "it expects a Tensor of shape (*, 1)" in message


def test_gpu_program_as_meant(capsys):
    """With ``x,y = x.to(device),y.to(device)`` the program runs and plots numpy arrays."""
    torch.manual_seed(0)
    plt.calls.clear()
    predict = _gpu_program(lambda x, y, device: (x.to(device),y.to(device)))
    assert type(predict) is np.ndarray and predict.shape == (50, 1)
    assert len(capsys.readouterr().out.splitlines()) == 15
    assert all(type(a) is np.ndarray for _, args, _ in plt.calls[:2] for a in args)
