"""Record PyTorch's forward values and gradients for every case in ``autograd_op_cases``.

Run from the repository root with torch installed::

    python tests/autograd/make_op_reference.py

It writes ``tests/autograd/fixtures/op_reference.npz`` (float64; keys
``<case>__in<i>``, ``<case>__out``, ``<case>__grad<i>``), which
``test_autograd_torch_parity.py`` compares against without needing torch.
"""
from __future__ import annotations

import pathlib

import numpy as np
import torch
from autograd_op_cases import CASES, run_torch

OUT = pathlib.Path(__file__).parent / "fixtures" / "op_reference.npz"


def main() -> None:
    arrays = {}
    for case in CASES:
        inputs = case.make_inputs()
        out, grads, _ = run_torch(torch, case, inputs)
        for i, (a, g) in enumerate(zip(inputs, grads)):
            arrays[f"{case.name}__in{i}"] = a
            arrays[f"{case.name}__grad{i}"] = g
        arrays[f"{case.name}__out"] = out
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, torch_version=np.array(torch.__version__), **arrays)
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
