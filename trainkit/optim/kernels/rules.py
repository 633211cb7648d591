"""Every element-wise optimizer update, written once.

Each function below is the per-element arithmetic of one torch.optim algorithm
(torch 2.13's single-tensor code path, operation for operation, so that
round-off matches too). They run unchanged on whole numpy/cupy arrays (the
plain path), per element inside numba loops, and are translated into one cupy
kernel; see :mod:`trainkit.optim.kernels`. Rules use no numeric literals:
constants arrive as scalars in the parameter dtype. Per-step scalars (bias
corrections, decayed learning rates) are computed by the optimizer classes in
Python float64, like torch does.

``M`` is the math namespace; it is rebound per backend.
"""
from __future__ import annotations

import types

import numpy as np

from .rule import Rule

# Default binding (the plain numpy path rebinds it explicitly per array module).
M = types.SimpleNamespace(sqrt=np.sqrt, maximum=np.maximum, minimum=np.minimum, abs=np.abs, sign=np.sign, where=np.where)


def sgd(param, grad, momentum_buffer, lr, weight_decay, momentum, one_minus_dampening,
        maximize, decay, use_momentum, first, nesterov):
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    buf = momentum_buffer
    if use_momentum:
        if first:
            buf = g
        else:
            buf = buf * momentum + one_minus_dampening * g
        if nesterov:
            g = g + momentum * buf
        else:
            g = buf
    param = param - lr * g
    return param, buf


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, weight_decay, decay_factor,
         one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, step_size,
         maximize, l2, decoupled, amsgrad):
    g = grad
    if maximize:
        g = -g
    if decoupled:
        param = param * decay_factor
    if l2:
        g = g + weight_decay * param
    m = exp_avg + one_minus_beta1 * (g - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    vmax = max_exp_avg_sq
    if amsgrad:
        vmax = M.maximum(vmax, v)
        denom = M.sqrt(vmax) / bias_correction2_sqrt + eps
    else:
        denom = M.sqrt(v) / bias_correction2_sqrt + eps
    param = param - step_size * (m / denom)
    return param, m, v, vmax


def adamax(param, grad, exp_avg, exp_inf, weight_decay, one_minus_beta1, beta2, eps, clr,
           maximize, decay):
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    m = exp_avg + one_minus_beta1 * (g - exp_avg)
    u = M.maximum(exp_inf * beta2, M.abs(g) + eps)
    param = param - clr * (m / u)
    return param, m, u


def adadelta(param, grad, square_avg, acc_delta, lr, weight_decay, rho, one_minus_rho, eps,
             maximize, decay):
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    sq = square_avg * rho + one_minus_rho * g * g
    std = M.sqrt(sq + eps)
    delta = M.sqrt(acc_delta + eps) / std * g
    acc = acc_delta * rho + one_minus_rho * delta * delta
    param = param - lr * delta
    return param, sq, acc


def adagrad(param, grad, sum, clr, weight_decay, eps, maximize, decay):  # noqa: A002 - torch's state name
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    s = sum + g * g
    std = M.sqrt(s) + eps
    param = param - clr * (g / std)
    return param, s


def asgd(param, grad, ax, weight_decay, decay_factor, eta, mu, maximize, decay, average):
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    param = param * decay_factor
    param = param - eta * g
    if average:
        a = ax + (param - ax) * mu
    else:
        a = param
    return param, a


def nadam(param, grad, exp_avg, exp_avg_sq, weight_decay, decay_factor, one_minus_beta1, beta2,
          one_minus_beta2, bias_correction2, eps, coef_grad, coef_avg, maximize, l2, decoupled):
    g = grad
    if maximize:
        g = -g
    if decoupled:
        param = param * decay_factor
    if l2:
        g = g + weight_decay * param
    m = exp_avg + one_minus_beta1 * (g - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    denom = M.sqrt(v / bias_correction2) + eps
    param = param + coef_grad * (g / denom)
    param = param + coef_avg * (m / denom)
    return param, m, v


def radam(param, grad, exp_avg, exp_avg_sq, weight_decay, decay_factor, one_minus_beta1, beta2,
          one_minus_beta2, bias_correction1, lr, bias_correction2_sqrt, eps, rect,
          maximize, l2, decoupled, rectify):
    g = grad
    if maximize:
        g = -g
    if decoupled:
        param = param * decay_factor
    if l2:
        g = g + weight_decay * param
    m = exp_avg + one_minus_beta1 * (g - exp_avg)
    v = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    corrected = m / bias_correction1
    if rectify:
        param = param - corrected * lr * (bias_correction2_sqrt / (M.sqrt(v) + eps)) * rect
    else:
        param = param - corrected * lr
    return param, m, v


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, weight_decay, alpha,
            one_minus_alpha, eps, momentum, maximize, decay, centered, use_momentum):
    g = grad
    if maximize:
        g = -g
    if decay:
        g = g + weight_decay * param
    sq = square_avg * alpha + one_minus_alpha * g * g
    ga = grad_avg
    if centered:
        ga = grad_avg + one_minus_alpha * (g - grad_avg)
        avg = M.sqrt(sq - ga * ga) + eps
    else:
        avg = M.sqrt(sq) + eps
    buf = momentum_buffer
    if use_momentum:
        buf = buf * momentum + g / avg
        param = param - lr * buf
    else:
        param = param - lr * (g / avg)
    return param, sq, ga, buf


def rprop(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, one, zero,
          maximize):
    g = grad
    if maximize:
        g = -g
    prod = g * prev
    factor = M.where(prod > zero, etaplus, M.where(prod < zero, etaminus, one))
    size = M.minimum(M.maximum(step_size * factor, step_size_min), step_size_max)
    g = M.where(prod < zero, zero, g)
    param = param - M.sign(g) * size
    return param, g, size


SGD = Rule(
    "sgd", sgd,
    arrays=("param", "grad", "momentum_buffer"),
    outputs=("param", "momentum_buffer"),
    scalars=("lr", "weight_decay", "momentum", "one_minus_dampening"),
    flags=("maximize", "decay", "use_momentum", "first", "nesterov"),
    optional=("momentum_buffer",),
)
ADAM = Rule(
    "adam", adam,
    arrays=("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    outputs=("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    scalars=("weight_decay", "decay_factor", "one_minus_beta1", "beta2", "one_minus_beta2",
             "bias_correction2_sqrt", "eps", "step_size"),
    flags=("maximize", "l2", "decoupled", "amsgrad"),
    optional=("max_exp_avg_sq",),
)
ADAMAX = Rule(
    "adamax", adamax,
    arrays=("param", "grad", "exp_avg", "exp_inf"),
    outputs=("param", "exp_avg", "exp_inf"),
    scalars=("weight_decay", "one_minus_beta1", "beta2", "eps", "clr"),
    flags=("maximize", "decay"),
)
ADADELTA = Rule(
    "adadelta", adadelta,
    arrays=("param", "grad", "square_avg", "acc_delta"),
    outputs=("param", "square_avg", "acc_delta"),
    scalars=("lr", "weight_decay", "rho", "one_minus_rho", "eps"),
    flags=("maximize", "decay"),
)
ADAGRAD = Rule(
    "adagrad", adagrad,
    arrays=("param", "grad", "sum"),
    outputs=("param", "sum"),
    scalars=("clr", "weight_decay", "eps"),
    flags=("maximize", "decay"),
)
ASGD = Rule(
    "asgd", asgd,
    arrays=("param", "grad", "ax"),
    outputs=("param", "ax"),
    scalars=("weight_decay", "decay_factor", "eta", "mu"),
    flags=("maximize", "decay", "average"),
)
NADAM = Rule(
    "nadam", nadam,
    arrays=("param", "grad", "exp_avg", "exp_avg_sq"),
    outputs=("param", "exp_avg", "exp_avg_sq"),
    scalars=("weight_decay", "decay_factor", "one_minus_beta1", "beta2", "one_minus_beta2",
             "bias_correction2", "eps", "coef_grad", "coef_avg"),
    flags=("maximize", "l2", "decoupled"),
)
RADAM = Rule(
    "radam", radam,
    arrays=("param", "grad", "exp_avg", "exp_avg_sq"),
    outputs=("param", "exp_avg", "exp_avg_sq"),
    scalars=("weight_decay", "decay_factor", "one_minus_beta1", "beta2", "one_minus_beta2",
             "bias_correction1", "lr", "bias_correction2_sqrt", "eps", "rect"),
    flags=("maximize", "l2", "decoupled", "rectify"),
)
RMSPROP = Rule(
    "rmsprop", rmsprop,
    arrays=("param", "grad", "square_avg", "grad_avg", "momentum_buffer"),
    outputs=("param", "square_avg", "grad_avg", "momentum_buffer"),
    scalars=("lr", "weight_decay", "alpha", "one_minus_alpha", "eps", "momentum"),
    flags=("maximize", "decay", "centered", "use_momentum"),
    optional=("grad_avg", "momentum_buffer"),
)
RPROP = Rule(
    "rprop", rprop,
    arrays=("param", "grad", "prev", "step_size"),
    outputs=("param", "prev", "step_size"),
    scalars=("etaminus", "etaplus", "step_size_min", "step_size_max", "one", "zero"),
    flags=("maximize",),
)

ALL_RULES = (SGD, ADAM, ADAMAX, ADADELTA, ADAGRAD, ASGD, NADAM, RADAM, RMSPROP, RPROP)
