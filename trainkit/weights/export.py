"""``trainkit export``: a trainkit checkpoint's model (or EMA) weights as ``.safetensors`` with torch's names.

trainkit's parameter names and shapes are torch's, so the exported file loads
into the matching torch model with ``load_state_dict(safetensors.torch.load_file(out))``
and into Hugging Face tooling, without trainkit installed.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import checkpoint as ckpt
from .errors import WeightsFileError
from .files import read_weights
from .safetensors_io import save_safetensors

__all__ = ["export_checkpoint"]

#: Where a checkpoint may keep EMA weights (a name -> array dict, or a dict with a "model" one); a
#: file whose ``weights`` entry is ``"ema"`` (``best_ema.npz``) holds them as its ``model``.
EMA_ENTRIES = (("ema",), ("plugins", "ema"))


def _ema_weights(state: dict, path: Path) -> dict:
    if state.get("weights") == "ema" and isinstance(state.get("model"), dict):
        return state["model"]  # an EMA weights file (best_ema.npz)
    for keys in EMA_ENTRIES:
        entry = state
        for key in keys:
            entry = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("model"), dict):
            entry = entry["model"]
        if isinstance(entry, dict) and entry and all(ckpt._is_array(v) for v in entry.values()):
            return entry
    where = " or ".join("/".join(keys) for keys in EMA_ENTRIES)
    raise WeightsFileError(f"{path} holds no EMA weights (looked for {where}); export without ema")


def export_checkpoint(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike, ema: bool = False) -> Path:
    """Write a checkpoint's model weights (its EMA weights with ``ema=True``) to ``out_path``.

    Args:
        checkpoint_path: a trainkit checkpoint; without ``ema`` also a plain ``.npz``
            state dict or another ``.safetensors`` file.
        out_path: the ``.safetensors`` file to write (atomically).
        ema: export the exponential moving average of the weights instead.

    Raises:
        WeightsFileError: unreadable input, or ``ema`` and the checkpoint has no EMA weights.
    """
    path = Path(checkpoint_path)
    if ema:
        try:
            weights = _ema_weights(ckpt.load(path), path)
        except ckpt.CorruptCheckpointError as exc:
            raise WeightsFileError(f"{exc} (ema=True needs a trainkit checkpoint)") from exc
    else:
        weights = read_weights(path)
    meta = {"source": path.name, "weights": "ema" if ema else "model", "producer": "trainkit"}
    return save_safetensors(weights, out_path, metadata=meta)
