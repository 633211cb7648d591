"""The errors and the warning of ``trainkit.weights``, in one place so every module raises the same ones."""
from __future__ import annotations

from ..checkpoint import CheckpointError, CheckpointWarning


class WeightsFileError(CheckpointError):
    """A weights file cannot be read or written: unknown, truncated, lying or a torch pickle.

    The message always names the file. It is a ``CheckpointError``, so the CLI
    reports it as a user error (no traceback), like an unreadable checkpoint.
    """


class KeyMapError(ValueError):
    """An ``init_map`` rule is malformed, matches no name, or maps two names onto one."""


class WeightsConversionWarning(CheckpointWarning):
    """Arrays were converted to the model's dtype while loading (e.g. float16 -> float32)."""
