"""Pretrained weights in and out: safetensors with PyTorch's names, for fine-tuning from real checkpoints.

Use it to start training from weights trained elsewhere (``init_from=model.safetensors``
with ``init_map`` rules for foreign names) and to hand trained weights to torch
or Hugging Face tooling (``trainkit export``). Modules, one concern each:

- :mod:`.files`: :func:`read_weights`, any accepted file recognised by content; torch pickles refused.
- :mod:`.safetensors_io`: the safetensors format: header validation, reading, :func:`save_safetensors`.
- :mod:`.keymap`: :func:`apply_key_map`, ``init_map`` renaming rules.
- :mod:`.loading`: :func:`plan` / :func:`mapping_table` (the dry run) and :func:`load_into`.
- :mod:`.export`: :func:`export_checkpoint`, a checkpoint's (EMA) weights to safetensors.

Importing this package does not import ``safetensors``; reading or writing a
safetensors file does, and says what to install when it is missing.
"""
from .errors import KeyMapError, WeightsConversionWarning, WeightsFileError
from .export import export_checkpoint
from .files import read_weights
from .keymap import apply_key_map, normalise_key_map
from .loading import MappingRow, MappingTable, load_into, mapping_table, plan
from .safetensors_io import read_safetensors, read_safetensors_header, save_safetensors

__all__ = [
    "KeyMapError",
    "MappingRow",
    "MappingTable",
    "WeightsConversionWarning",
    "WeightsFileError",
    "apply_key_map",
    "export_checkpoint",
    "load_into",
    "mapping_table",
    "normalise_key_map",
    "plan",
    "read_safetensors",
    "read_safetensors_header",
    "read_weights",
    "save_safetensors",
]
