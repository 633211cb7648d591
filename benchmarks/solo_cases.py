"""The training steps that ``run.py`` times, one library per fresh process.

Each case builds the same model in trainkit, torch or JAX (``jax`` + ``optax``,
jit-compiled step) from the library's own modules and optimizer, and returns a
``step()`` that runs zero_grad / forward / loss / backward / update. The child
entry point (``python solo_cases.py CASE LIB STEPS REPEAT WARMUP``) warms up,
times ``REPEAT`` blocks of ``STEPS`` steps and prints one JSON line with the
seconds per step of each block. Inputs are the same numpy arrays for every
library (seeded), so each library does the same arithmetic.

Cases:
- ``mlp``: MLP 784-256-256-10 (ReLU), batch 128, cross-entropy, Adam lr 1e-3.
- ``cnn``: the classic CIFAR-10 CNN (three Conv2d 5x5 padding 2, 3->32->32->64,
  each followed by MaxPool2d(2) and ReLU; Linear 1024-64-10), batch 64 of
  3x32x32, cross-entropy, SGD lr 0.01 momentum 0.9.
- ``transformer``: token Embedding 5000x256, then ``h + Linear(1024->256)(GELU(
  Linear(256->1024)(LayerNorm(h))))``, then a Linear 256->5000 head and
  cross-entropy over the 5,000 classes; batch 32 x 64 tokens, AdamW lr 1e-3.
"""
from __future__ import annotations

import json
import sys
import time

if __name__ == "__main__" and sys.argv[2:3] == ["trainkit"]:
    # as a script that starts with `import trainkit`: before numpy, so OpenBLAS reads the idle-thread
    # timeout trainkit sets (README, "Threads on CPU"); numpy first would leave OpenBLAS's default
    import trainkit  # noqa: F401

import numpy as np

VOCAB, DIM, HIDDEN, BATCH, SEQ = 5000, 256, 1024, 32, 64


def _data(case):
    rng = np.random.default_rng(0)
    if case == "mlp":
        return rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    if case == "cnn":
        return rng.standard_normal((64, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 64)
    return rng.integers(0, VOCAB, (BATCH, SEQ)), rng.integers(0, VOCAB, BATCH * SEQ)


def _layers(nn, case):
    """The model as a list of modules (trainkit and torch share torch's module names)."""
    if case == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if case == "cnn":
        return nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, 10),
        )
    return nn.ModuleList([nn.Embedding(VOCAB, DIM), nn.LayerNorm(DIM), nn.Linear(DIM, HIDDEN), nn.GELU(),
                          nn.Linear(HIDDEN, DIM), nn.Linear(DIM, VOCAB)])


def _forward(case, model, x):
    if case != "transformer":
        return model(x)
    emb, ln, fc1, act, fc2, head = model
    h = emb(x)
    h = h + fc2(act(fc1(ln(h))))
    return head(h).reshape(BATCH * SEQ, VOCAB)


def _optimizer(optim, case, params):
    if case == "mlp":
        return optim.Adam(params, lr=1e-3)
    if case == "cnn":
        return optim.SGD(params, lr=0.01, momentum=0.9)
    return optim.AdamW(params, lr=1e-3)


def build_eager(lib_name, case):
    """trainkit or torch: both speak torch's API."""
    if lib_name == "torch":
        import torch as lib
    else:
        import trainkit as lib
    x, y = _data(case)
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)
    model = _layers(lib.nn, case)
    opt = _optimizer(lib.optim, case, model.parameters())
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = criterion(_forward(case, model, xt), yt)
        loss.backward()
        opt.step()

    return step


def build_jax(case):
    """JAX + flax-free hand-written layers + optax, the whole step jit-compiled."""
    import jax
    import jax.numpy as jnp
    import optax

    x, y = jnp.asarray(_data(case)[0]), jnp.asarray(_data(case)[1])
    key = iter(jax.random.split(jax.random.PRNGKey(0), 16))

    def dense(i, o):
        return {"w": jax.random.normal(next(key), (i, o)) * (1 / i) ** 0.5, "b": jnp.zeros(o)}

    def conv(i, o):
        return {"w": jax.random.normal(next(key), (o, i, 5, 5)) * (1 / (i * 25)) ** 0.5, "b": jnp.zeros(o)}

    if case == "mlp":
        params = [dense(784, 256), dense(256, 256), dense(256, 10)]
        tx = optax.adam(1e-3)

        def model(p, a):
            for layer in p[:-1]:
                a = jax.nn.relu(a @ layer["w"] + layer["b"])
            return a @ p[-1]["w"] + p[-1]["b"]
    elif case == "cnn":
        params = {"conv": [conv(3, 32), conv(32, 32), conv(32, 64)], "fc": [dense(1024, 64), dense(64, 10)]}
        tx = optax.sgd(0.01, momentum=0.9)

        def model(p, a):
            for layer in p["conv"]:
                a = jax.lax.conv_general_dilated(a, layer["w"], (1, 1), ((2, 2), (2, 2)))
                a = a + layer["b"][None, :, None, None]
                a = jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
                a = jax.nn.relu(a)
            a = jax.nn.relu(a.reshape(a.shape[0], -1) @ p["fc"][0]["w"] + p["fc"][0]["b"])
            return a @ p["fc"][1]["w"] + p["fc"][1]["b"]
    else:
        params = {"emb": jax.random.normal(next(key), (VOCAB, DIM)), "ln": {"g": jnp.ones(DIM), "b": jnp.zeros(DIM)},
                  "fc1": dense(DIM, HIDDEN), "fc2": dense(HIDDEN, DIM), "head": dense(DIM, VOCAB)}
        tx = optax.adamw(1e-3, weight_decay=1e-2)

        def model(p, t):
            h = p["emb"][t]
            mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
            z = (h - mu) / jnp.sqrt(var + 1e-5) * p["ln"]["g"] + p["ln"]["b"]
            z = jax.nn.gelu(z @ p["fc1"]["w"] + p["fc1"]["b"], approximate=False)
            h = h + z @ p["fc2"]["w"] + p["fc2"]["b"]
            return (h @ p["head"]["w"] + p["head"]["b"]).reshape(BATCH * SEQ, VOCAB)

    def loss_fn(p):
        return optax.softmax_cross_entropy_with_integer_labels(model(p, x), y).mean()

    @jax.jit
    def update(p, s):
        grads = jax.grad(loss_fn)(p)
        upd, s = tx.update(grads, s, p)
        return optax.apply_updates(p, upd), s

    state = {"p": params, "s": tx.init(params)}

    def step():
        state["p"], state["s"] = update(state["p"], state["s"])
        jax.block_until_ready(state["p"])

    return step


def main(argv):
    case, lib_name, steps, repeat, warmup = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    step = build_jax(case) if lib_name == "jax" else build_eager(lib_name, case)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - start) / steps)
    print(json.dumps({"case": case, "lib": lib_name, "times": times}))


if __name__ == "__main__":
    main(sys.argv[1:])
