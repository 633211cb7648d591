"""The global random state behind ``randn``/``rand``, initialisation and dropout.

One ``numpy.random.Generator`` (and, lazily, one cupy generator per device)
seeded by ``manual_seed``. Its state can be saved and restored exactly, which
checkpoints need for bit-identical resume.
"""
from __future__ import annotations

import numpy as np

_seed = 0
_cuda_seed = 0  # what the cupy generators start from (manual_seed sets both)
_generator = np.random.default_rng(0)
_cupy_generators: dict = {}


def manual_seed(seed: int) -> None:
    """Seed every generator trainkit uses (numpy, and cupy when it is in use)."""
    global _seed, _generator
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    manual_seed_cuda(seed)


def manual_seed_cuda(seed: int) -> None:
    """Seed the GPU generators only (``trainkit.cuda.manual_seed``); they start on first use."""
    global _cuda_seed
    _cuda_seed = int(seed)
    _cupy_generators.clear()


def generator() -> np.random.Generator:
    """The numpy Generator used for CPU randomness."""
    return _generator


def generator_for(xp):
    """The generator for array module ``xp`` (numpy or cupy)."""
    if xp is np:
        return _generator
    gen = _cupy_generators.get(xp.cuda.Device().id)
    if gen is None:
        gen = xp.random.default_rng(_cuda_seed + 7919 * xp.cuda.Device().id)
        _cupy_generators[xp.cuda.Device().id] = gen
    return gen


def get_rng_state() -> dict:
    """A JSON-serialisable snapshot of the CPU generator."""
    return {"seed": _seed, "bit_generator": _generator.bit_generator.state}


def set_rng_state(state: dict) -> None:
    global _seed, _cuda_seed
    _seed = _cuda_seed = int(state["seed"])
    _generator.bit_generator.state = state["bit_generator"]
