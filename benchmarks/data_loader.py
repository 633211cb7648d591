"""One shuffled epoch of mini-batches, trainkit DataLoader vs torch DataLoader.

Cases (float32 features, int64 labels, shuffle=True, in-memory TensorDataset):
- MNIST-sized: 60,000 x 784, batch 128 (469 batches).
- CIFAR-sized: 10,000 x 3x32x32, batch 64 (157 batches).
- spirals: 1,200 x 2, batch 64 (the default job's train loader; per-batch overhead).
Also times generating the built-in ``shapes`` dataset (3,000 images, no reference).
Run: ``python benchmarks/data_loader.py [--filter mnist] [--repeat 7]``.
"""
from __future__ import annotations

import numpy as np
from harness import Case, run, torch_or_none  # the script's own directory is on sys.path

from trainkit.data import DataLoader, TensorDataset, shapes


def epoch_case(name, n, shape, batch_size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    y = rng.integers(0, 10, n)
    ours = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)

    def tk():
        for _ in ours:
            pass

    torch = torch_or_none()
    ref = None
    if torch is not None:
        theirs = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
            batch_size=batch_size, shuffle=True)

        def ref():
            for _ in theirs:
                pass

    return Case(name, tk, ref, items=len(ours), meta={"unit": "batches"})


def main():
    cases = [
        epoch_case("epoch mnist 60000x784 bs128", 60_000, (784,), 128),
        epoch_case("epoch cifar 10000x3x32x32 bs64", 10_000, (3, 32, 32), 64),
        epoch_case("epoch spirals 1200x2 bs64", 1_200, (2,), 64),
        Case("generate shapes 3000x3x32x32", lambda: shapes(n_samples=3000), None, items=3000),
    ]
    run(cases)


if __name__ == "__main__":
    main()
