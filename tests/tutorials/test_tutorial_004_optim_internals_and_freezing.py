"""Tutorial 004_1156023ed7342d6d.txt (optim 的基本使用, param groups, torch's Optimizer/SGD source, freezing).

Every snippet with ``import torch`` (and its ``t`` alias) renamed. The tutorial
leaves its networks and ``args``/``opt`` undefined; the ones below have the
attribute and parameter names its snippets use (``classifiter``, ``conv1``,
``bn1``, ``layer1``-``layer4``, parameters ending in ``cw``/``lamb``, layers
named ``seg``). Two snippets are torch's own source: its ``SGD.step`` runs as
the ``step`` of a custom ``trainkit.optim.Optimizer`` subclass (and matches
torch's SGD), its ``Optimizer.__init__`` stops at ``torch._C`` (torch's C
extension, which trainkit does not imitate). The positional-argument mistake
the tutorial warns about fails the same way as in torch.
"""
from __future__ import annotations

import re
from argparse import Namespace
from collections import defaultdict

import numpy as np
import pytest

# 004_1156023ed7342d6d.txt: ``import torch`` / ``import torch as t`` / ``from torch import nn, optim`` /
# ``from torch.optim import Optimizer`` / ``from torch.optim.optimizer import required``, renamed:
import trainkit as torch
import trainkit as t
from trainkit import nn, optim
from trainkit.optim import Optimizer as TorchOptimizer
from trainkit.optim.optimizer import required

args = Namespace(learning_rate=0.1, momentum=0.9, weight_decay=1e-4)
opt = Namespace(lr=0.01)


class Quant(nn.Module):
    def __init__(self):
        super().__init__()
        self.cw = nn.Parameter(torch.ones(3))
        self.dw = nn.Parameter(torch.ones(3))
        self.lamb = nn.Parameter(torch.ones(1))


class Net(nn.Module):
    """The parameter names of the grouping snippets: conv*/fc* weights, quantiser scales, ``classifiter``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Linear(3, 4)
        self.quant = Quant()
        self.classifiter = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Dropout(0.0), nn.Linear(5, 2))

    def forward(self, x):
        return self.classifiter(self.conv(x) * self.quant.lamb)


class TwoStream(nn.Module):
    """A pretrained-ResNet-like encoder (conv1, bn1, layer1-4) and a decoder with ``seg`` layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1, self.layer2 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.layer3, self.layer4 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.seg_head = nn.Conv2d(4, 2, 1)
        self.decoder = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        x = self.bn1(self.conv1(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.decoder(self.seg_head(x))


def test_the_whole_loop():
    """004_1156023ed7342d6d.txt, optim的完整流程 (and its comment ``w.data -= w.grad*lr``)."""
    torch.manual_seed(0)
    net, inputs, label, iters = Net(), torch.randn(8, 3), torch.randn(8, 2), 30
    cifiron = nn.MSELoss()
    optimiter = torch.optim.SGD(net.parameters(),lr=0.01,momentum=0.9)
    losses = []
    for i in range(iters):
        out = net(inputs)
        loss = cifiron(out,label)
        optimiter.zero_grad() # 清空之前保留的梯度信息
        loss.backward() # 將mini_batch 的loss 信息反傳回去
        optimiter.step() # 根據 optim參數 和 梯度 更新參數 w.data -= w.grad*lr
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    w, lr = net.conv.weight, 0.01  # the comment's update, by hand
    cifiron(net(inputs), label).backward()
    before = w.data.numpy().copy()
    w.data -= w.grad*lr
    np.testing.assert_allclose(w.data.numpy(), before - lr * w.grad.numpy(), rtol=1e-6)


def test_adam_has_no_momentum_argument(torch_if_any):
    """004_1156023ed7342d6d.txt: ``torch.optim.Adam(..., momentum=0.9)`` is a TypeError (in torch too)."""
    net = Net()
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentum'") as got:
        optimiter = torch.optim.Adam(net.parameters(),lr=0.01,momentum=0.9)  # noqa: F841
    if torch_if_any is not None:
        with pytest.raises(TypeError) as want:
            torch_if_any.optim.Adam([torch_if_any.nn.Parameter(torch_if_any.ones(1))], lr=0.01, momentum=0.9)
        assert str(got.value) == str(want.value)


def test_three_groups():
    """004_1156023ed7342d6d.txt: three groups, each with its own strategy."""
    net = Net()
    other_params, first_params, second_params = (list(m.parameters()) for m in (net.conv, net.quant, net.classifiter))
    optimizer = torch.optim.SGD([
    {'params': other_params},
    {'params': first_params, 'lr': 0.01*args.learning_rate},
    {'params': second_params, 'weight_decay': args.weight_decay}],
    lr=args.learning_rate,
    momentum=args.momentum,
    )
    assert len(optimizer.param_groups) == 3  # len(optimizer.param_groups)==3, as the tutorial says
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.1, 0.001, 0.1])
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0, 0, 1e-4]


def test_an_adam_subclass_built_like_torch():
    """004_1156023ed7342d6d.txt: ``class Adam(Optimizer)`` calling ``super().__init__(params, defaults)``."""
    Optimizer = TorchOptimizer

    class Adam(Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                     weight_decay=0, amsgrad=False):
            defaults = dict(lr=lr, betas=betas, eps=eps,
                            weight_decay=weight_decay, amsgrad=amsgrad)
            super(Adam, self).__init__(params, defaults)

    net = Net()
    opt_ = Adam([{'params': list(net.conv.parameters())}, {'params': list(net.classifiter.parameters()), 'lr': 0.1*1e-3}])
    assert [g["lr"] for g in opt_.param_groups] == pytest.approx([1e-3, 1e-4])
    assert opt_.param_groups[0]["betas"] == (0.9, 0.999)


def test_torch_optimizer_source_stops_only_at_torch_C():
    """004_1156023ed7342d6d.txt: torch's ``Optimizer.__init__`` as the tutorial prints it."""

    class Optimizer(object):
        def __init__(self, params, defaults):
            torch._C._log_api_usage_once("python.optimizer")
            self.defaults = defaults
            self.state = defaultdict(dict)
            self.param_groups = [] # 自身構造的參數組,每個組使用一套參數
            param_groups = list(params)
            if len(param_groups) == 0:
                raise ValueError("optimizer got an empty parameter list")
            # 如果傳入的net.parameters(),將其轉換為 字典
            if not isinstance(param_groups[0], dict):
                param_groups = [{'params': param_groups}]
            for param_group in param_groups:
                #add_param_group 這個函數,主要是處理一下每個參數組其它屬性參數(lr,eps)
                self.add_param_group(param_group)

        def add_param_group(self, param_group):
            for name, default in self.defaults.items():
                if default is required and name not in param_group:
                    raise ValueError("parameter group didn't specify a value of required optimization parameter " +
                                     name)
                else:
                    param_group.setdefault(name, default)
            # 判斷 是否有一個參數 出現在不同的參數組中,否則會報錯
            param_set = set()
            for group in self.param_groups:
                param_set.update(set(group['params']))
            if not param_set.isdisjoint(set(param_group['params'])):
                raise ValueError("some parameters appear in more than one parameter group")
            # 然後 更新自身的參數組中
            self.param_groups.append(param_group)

    net = Net()
    with pytest.raises(AttributeError, match="no attribute '_C'"):
        Optimizer(net.parameters(), dict(lr=required, momentum=0))
    # past that line (torch's C-extension logging) the logic runs on trainkit Parameters
    bare = Optimizer.__new__(Optimizer)
    bare.defaults, bare.state, bare.param_groups = dict(lr=required, momentum=0), defaultdict(dict), []
    bare.add_param_group({'params': list(net.conv.parameters()), 'lr': 0.1})
    with pytest.raises(ValueError, match="more than one parameter group"):
        bare.add_param_group({'params': [net.conv.weight], 'lr': 0.1})
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        bare.add_param_group({'params': [net.quant.cw]})


class SGD(TorchOptimizer):
    """004_1156023ed7342d6d.txt: torch's (older) ``SGD.step``, verbatim, as a custom optimizer."""

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super(SGD, self).__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()

        for group in self.param_groups:
            # 本組參數更新所必需的 參數設置
            weight_decay = group['weight_decay']
            momentum = group['momentum']
            dampening = group['dampening']
            nesterov = group['nesterov']

            for p in group['params']: # 本組所有需要更新的參數 params
                if p.grad is None: # 如果沒有梯度 則直接下一步
                    continue
                d_p = p.grad.data
                # 正則化 及 動量累積 操作
                if weight_decay != 0:
                    d_p.add_(weight_decay, p.data)
                if momentum != 0:
                    param_state = self.state[p]
                    if 'momentum_buffer' not in param_state:
                        buf = param_state['momentum_buffer'] = torch.clone(d_p).detach()
                    else:
                        buf = param_state['momentum_buffer']
                        buf.mul_(momentum).add_(1 - dampening, d_p)
                    if nesterov:
                        d_p = d_p.add(momentum, buf)
                    else:
                        d_p = buf
                # 當前組 學習參數 更新 w.data -= w.grad*lr
                p.data.add_(-group['lr'], d_p)

        return loss


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9, dampening=0.2),
                                    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)])
def test_the_printed_sgd_step_matches_sgd(kwargs):
    """The tutorial's ``SGD.step`` (``add_(alpha, other)``, ``p.grad.data``, ``state[p]``) equals trainkit's SGD."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3))
    mine, ref = nn.Parameter(torch.tensor(w0)), nn.Parameter(torch.tensor(w0))
    custom, builtin = SGD([mine], **kwargs), optim.SGD([ref], **kwargs)
    for _ in range(6):
        g = rng.standard_normal((4, 3))
        mine.grad, ref.grad = g.copy(), g.copy()
        custom.step()
        builtin.step()
    np.testing.assert_allclose(mine.data.numpy(), ref.data.numpy(), rtol=1e-13, atol=1e-15)
    if kwargs.get("momentum"):
        buf = custom.state[mine]["momentum_buffer"]
        assert isinstance(buf, torch.Tensor)  # the state keeps the Tensor the step stored, as torch's does
        np.testing.assert_allclose(buf.numpy(), builtin.state[ref]["momentum_buffer"], rtol=1e-13)


def test_grouping_parameters_by_name():
    """004_1156023ed7342d6d.txt, 如何獲取指定參數 (``'conv' or ...`` is always true: other_params ends up empty)."""
    model = Net()
    all_params = model.parameters()
    weight_params = []
    quant_params = []
    # 根據自己的篩選規則 將所有網絡參數進行分組
    for pname, p in model.named_parameters():
        if any([pname.endswith(k) for k in ['cw', 'dw', 'cx', 'dx', 'lamb']]):
            quant_params += [p]
        elif ('conv' or 'fc' in pname and 'weight' in pname):
            weight_params += [p]
    # 取回分組參數的id
    params_id = list(map(id, weight_params)) + list(map(id, quant_params))
    # 取回剩餘分特殊處置參數的id
    other_params = list(filter(lambda p: id(p) not in params_id, all_params))
    # 構建不同學習參數的優化器
    optimizer = torch.optim.SGD([
    {'params': other_params},
    {'params': quant_params, 'lr': 0.1*args.learning_rate},
    {'params': weight_params, 'weight_decay': args.weight_decay}],
    lr=args.learning_rate,
    momentum=args.momentum,
    )
    assert [len(g["params"]) for g in optimizer.param_groups] == [0, 3, 6]


def test_special_layers(capsys):
    """004_1156023ed7342d6d.txt, 獲取指定層的參數id."""
    net = Net()
    # # 以層為單位,為不同層指定不同的學習率
    # ## 提取指定層對象
    special_layers = t.nn.ModuleList([net.classifiter[0], net.classifiter[3]])
    # ## 獲取指定層參數id
    special_layers_params = list(map(id, special_layers.parameters()))
    print(special_layers_params)
    # ## 獲取非指定層的參數id
    base_params = filter(lambda p: id(p) not in special_layers_params, net.parameters())
    optimizer = t.optim.SGD([{'params': base_params},
    {'params': special_layers.parameters(), 'lr': 0.01}], lr=0.001)
    assert capsys.readouterr().out.strip() == str(special_layers_params)
    assert [len(g["params"]) for g in optimizer.param_groups] == [5, 4]


def test_freezing_with_param_groups_and_the_positional_mistake(torch_if_any):
    """004_1156023ed7342d6d.txt, 補充: freeze by name, filter, groups, the mistake and its fix."""
    import re
    str = 'assdffggggg'
    word = 'a'
    a = [m.start() for m in re.finditer(word, str)]
    assert a == [0]

    net = decode_net = netG = TwoStream()
    names = [name for name, p in net.named_parameters()]
    assert names == [name for name, _ in zip(names, net.parameters())]  # the two for loops

    word1 = 'seg'
    for name, p in decode_net.named_parameters():
        str = name
        a = [m.start() for m in re.finditer(word1, str)]
        if a: #列表a不為空的話就設置回傳的標識為False
            p.requires_grad = False
        else:
            p.requires_grad = True
    frozen = {name for name, p in net.named_parameters() if not p.requires_grad}
    assert frozen == {"seg_head.weight", "seg_head.bias"}

    optimizer = optim.SGD(
    filter(lambda p: p.requires_grad, net.parameters()), # 記住一定要加上filter(),不然會報錯
    lr=0.01, weight_decay=1e-5, momentum=0.9)
    assert len(optimizer.param_groups[0]["params"]) == len(names) - 2

    base_params_id = list(map(id, net.conv1.parameters())) + list(map(id,net.bn1.parameters()))+\
    list(map(id,net.layer1.parameters())) + list(map(id,net.layer2.parameters())) \
    + list(map(id,net.layer3.parameters())) + list(map(id,net.layer4.parameters()))
    new_params = filter(lambda p: id(p) not in base_params_id , net.parameters())
    base_params = filter(lambda p: id(p) in base_params_id, net.parameters())
    optimizerG = optim.SGD([{'params': base_params, 'lr': 1e-4},
    {'params': new_params}], lr = opt.lr, momentum = 0.9, weight_decay=0.0005)
    assert [len(g["params"]) for g in optimizerG.param_groups] == [12, 4]

    # the mistake: a TypeError as in torch, which says "got multiple values for argument 'lr'";
    # trainkit says what happened and how to write it
    with pytest.raises(TypeError, match=r"(?s)second positional argument, which is `lr`.*Pass ONE `params`"):
        optimizerG = optim.SGD( filter(lambda p: p.requires_grad, net.parameters()),
        [{'params': base_params, 'lr': 1e-4},
        {'params': new_params}], lr = opt.lr, momentum = 0.9, weight_decay=0.0005)
    if torch_if_any is not None:
        with pytest.raises(TypeError, match="got multiple values for argument 'lr'"):
            torch_if_any.optim.SGD([torch_if_any.nn.Parameter(torch_if_any.ones(1))], [], lr=0.1)

    new_params = filter(lambda p: id(p) not in base_params_id and p.requires_grad,\
    netG.parameters())
    base_params = filter(lambda p: id(p) in base_params_id,
    netG.parameters())
    optimizerG = optim.SGD([{'params': base_params, 'lr': 1e-4},
    {'params': new_params}], lr = opt.lr, momentum = 0.9, weight_decay=0.0005)
    assert [len(g["params"]) for g in optimizerG.param_groups] == [12, 2]
    torch.manual_seed(0)
    before = {n: p.data.numpy().copy() for n, p in net.named_parameters()}
    optimizerG.zero_grad()
    net(torch.randn(2, 1, 6, 6)).sum().backward()
    optimizerG.step()
    for n, p in net.named_parameters():  # frozen layers stay, the others move
        assert np.array_equal(p.data.numpy(), before[n]) == (n in frozen), n
