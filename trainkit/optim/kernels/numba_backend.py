"""The fused CPU path: one numba loop per rule and flag combination.

For a rule, its flag values and the set of optional arrays present, a small
module is generated into a cache directory: it contains the rule's combined
source (:attr:`~.rule.Rule.source`: the shared prologue inlined ahead of the
rule's body, ``M`` bound to :mod:`.numba_ops`) and two loops that read each array element
once, call the inlined rule and write the outputs back, i.e. one pass over
memory: ``serial`` (a plain loop) and ``parallel`` (a ``prange`` loop over
numba's thread pool). Flags are literal constants, so the loops have no
branches and LLVM vectorises them (AVX: 8 float32 lanes per instruction).
Both are compiled with ``cache=True`` and lazily, so a process compiles (or
loads from numba's on-disk cache) only the variants it calls; the file name
contains a hash of the source, so the cache is never stale. ``fastmath`` is
off and the scalars arrive as one array of the arrays' dtype (cast once, as
numpy casts them on the plain path), so the loops do float32 math on float32
buffers and each element sees the same IEEE operations as the plain numpy path
(bit-identical results; tested), whichever variant runs.

Why two variants: waking numba's worker threads costs microseconds on an idle
machine but whole scheduler time slices (milliseconds) when other processes
keep the cores busy, and a step of a small model is only a few microseconds of
work. Buffers with fewer than :func:`parallel_threshold` elements (default
262,144: about 0.1 ms of serial work, where two threads pay off on an idle
machine) always run ``serial``; larger ones switch between ``serial`` and
``parallel`` by measured time (:class:`.adaptive.Adaptive`), as which one wins
depends on the machine's load. ``$TRAINKIT_OPTIM_PARALLEL_MIN`` overrides the
threshold (elements); one numba thread (``NUMBA_NUM_THREADS=1`` or
``numba.set_num_threads(1)`` before the first step) means serial only.

numba itself is imported on the first fused step, never by ``import trainkit``,
through :func:`trainkit.backend.numba_available`, which keeps the reason when
numba is unusable (:func:`numba_unavailable_reason`) and holds trainkit's one
numba kill switch, ``TRAINKIT_DISABLE_NUMBA=1``: then every step takes the plain
path (same numbers).
That first step costs about half a second (numba's start-up; measured on the
2-core development machine), each further kernel 10-20 ms to load from the
cache, or 0.2 s (serial) / 0.5 s (parallel) to compile on a cold cache; small
models skip all of it until their plain steps have taken about as long (see
:mod:`trainkit.optim.elementwise`).

Cache directory: ``$TRAINKIT_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/trainkit/kernels``
(``~/.cache/trainkit/kernels``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import numpy as np

from ...backend import numba_available, numba_unavailable_reason
from .adaptive import Adaptive

_TEMPLATE_VERSION = "2"
_KERNELS: dict = {}
DEFAULT_PARALLEL_MIN = 262_144


def parallel_threshold() -> int:
    """Smallest buffer (in elements) that runs on numba's thread pool (see the module docstring)."""
    raw = os.environ.get("TRAINKIT_OPTIM_PARALLEL_MIN", "").strip()
    if not raw:
        return DEFAULT_PARALLEL_MIN
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"TRAINKIT_OPTIM_PARALLEL_MIN must be a whole number of elements (0 or more), got {raw!r}"
        ) from None
    if value < 0:
        raise ValueError(f"TRAINKIT_OPTIM_PARALLEL_MIN must be 0 or more, got {value}")
    return value


def may_use_parallel(numel: int) -> bool:
    """Whether a buffer of ``numel`` elements may run the ``parallel`` variant."""
    if numel < parallel_threshold():
        return False
    import numba

    return numba.get_num_threads() > 1


def cache_dir() -> str:
    """Where generated kernel modules (and numba's cache next to them) live."""
    root = os.environ.get("TRAINKIT_KERNEL_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "trainkit", "kernels")
    os.makedirs(root, exist_ok=True)
    return root


def generate_source(rule, flags: dict, present: tuple[str, ...]) -> str:
    """Source of the kernel module for ``rule`` with ``flags`` and ``present`` arrays."""
    fn_name = rule.fn.__name__
    kernel_args = ", ".join([a for a in rule.arrays if a in present] + ["scalars"])
    unpack = [f"    {name} = scalars[{k}]" for k, name in enumerate(rule.scalars)]
    first = rule.arrays[0]
    loads = []
    call_args = []
    for a in rule.arrays:
        if a in present:
            loads.append(f"        _{a} = {a}[i]")
            call_args.append(f"_{a}")
        else:
            call_args.append(f"_{first}")
    call_args += list(rule.scalars)
    call_args += [repr(bool(flags[f])) for f in rule.flags]
    outs = [f"_o_{o}" for o in rule.outputs]
    stores = [f"        {o}[i] = _o_{o}" for o in rule.outputs if o in present]
    body = [*loads, f"        {', '.join(outs)}, = _rule({', '.join(call_args)})", *stores]
    options = "fastmath=False, error_model='numpy', cache=True, nogil=True"
    lines = [
        f"# Generated by trainkit.optim.kernels.numba_backend (template {_TEMPLATE_VERSION}); do not edit.",
        f"# rule={rule.name} flags={dict(sorted(flags.items()))} present={list(present)}",
        "import numba",
        "from trainkit.optim.kernels import numba_ops as M",
        "",
        rule.source,
        f"_rule = numba.njit(inline='always', error_model='numpy', fastmath=False)({fn_name})",
        "",
        "",
        f"@numba.njit({options})",
        f"def serial({kernel_args}):",
        *unpack,
        f"    for i in range({first}.shape[0]):",
        *body,
        "",
        "",
        f"@numba.njit(parallel=True, {options})",
        f"def parallel({kernel_args}):",
        *unpack,
        f"    for i in numba.prange({first}.shape[0]):",
        *body,
        "",
    ]
    return "\n".join(lines)


def _load_module(rule, flags: dict, present: tuple[str, ...]):
    source = generate_source(rule, flags, present)
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    mod_name = f"_trainkit_kernel_{rule.name}_{digest}"
    path = os.path.join(cache_dir(), mod_name + ".py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def kernels_loaded() -> bool:
    """Whether this process has loaded a fused kernel (numba then runs: one more costs milliseconds)."""
    return bool(_KERNELS)


def get_kernel(rule, flags: dict, present: tuple[str, ...], parallel: bool = True):
    """The kernel (compiled on first call, then cached) for this rule/flags/arrays combination."""
    key = (rule.name, rule.fn, tuple(sorted(flags.items())), present)
    module = _KERNELS.get(key)
    if module is None:
        module = _load_module(rule, flags, present)
        _KERNELS[key] = module
    return module.parallel if parallel else module.serial


def bind_numba(rule, arrays: dict, flags: dict):
    """A callable ``run(values)`` that updates ``arrays`` in place with the fused kernel.

    ``values`` are the rule's scalars in order, as Python floats; they reach
    the kernel as one array of the arrays' dtype (the same rounding as numpy's
    scalar cast, and one argument for numba to type instead of one per scalar).
    Small buffers get the serial variant; large ones an :class:`.adaptive.Adaptive`
    choice between serial and parallel by measured time. The arrays are bound,
    so a step only passes the scalars.
    """
    if not numba_available():
        raise RuntimeError(f"the numba optimizer backend is unavailable: {numba_unavailable_reason()}")
    present = tuple(a for a in rule.arrays if arrays.get(a) is not None)
    bound = tuple(arrays[a] for a in present)
    dtype = bound[0].dtype
    if may_use_parallel(bound[0].shape[0]):
        kernel = Adaptive((get_kernel(rule, flags, present, parallel=False),
                           get_kernel(rule, flags, present, parallel=True)))
    else:
        kernel = get_kernel(rule, flags, present, parallel=False)

    def run(values) -> None:
        kernel(*bound, np.array(values, dtype=dtype))

    return run

