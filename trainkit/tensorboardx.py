"""tensorboardX, imported without importing torch.

``tensorboardX.writer`` runs ``import torch`` at import time whenever torch is
installed, only to use ``torch.Tensor`` in its type annotations: a second and
about 200 MB for a trainkit run that never touches torch. :func:`tensorboardx`
imports tensorboardX with torch's import blocked (``sys.modules["torch"] =
None`` makes ``import torch`` raise ImportError, which tensorboardX catches)
and lifts the block right after, so the annotations name ``numpy.ndarray``
instead and nothing else changes: tensorboardX imports torch again, on use, in
the functions that take torch tensors or models (``make_np`` of a tensor,
``add_graph``), and code that imports torch later gets it as usual. When torch
is already imported nothing is blocked.

Every trainkit module that imports tensorboardX goes through this one; the
block lasts the import only (on the calling thread; another thread importing
torch at that instant would see the ImportError).
"""
from __future__ import annotations

import sys
import threading

__all__ = ["tensorboardx"]

_LOCK = threading.Lock()


def tensorboardx():
    """The ``tensorboardX`` module, imported (the first time) without importing torch."""
    module = sys.modules.get("tensorboardX")
    if module is not None:
        return module
    with _LOCK:
        block = "torch" not in sys.modules
        if block:
            sys.modules["torch"] = None  # type: ignore[assignment]
        try:
            import tensorboardX
        finally:
            if block and "torch" in sys.modules and sys.modules["torch"] is None:
                del sys.modules["torch"]
    return tensorboardX
