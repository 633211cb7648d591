"""What every ``trainkit`` subcommand shares: exit codes, one-line errors and warnings, plugin loading."""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings

__all__ = ["EXIT_CONFIG_ERROR", "EXIT_TRAINING_ERROR", "error", "load_plugins", "warnings_as_lines"]

EXIT_CONFIG_ERROR = 2
EXIT_TRAINING_ERROR = 1

def error(message: str, code: int = EXIT_CONFIG_ERROR) -> int:
    print(f"trainkit: error: {message}", file=sys.stderr)
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """trainkit's own warnings as one line: through logging once Hydra set it up (so they reach
    the run's ``train.log``), else ``trainkit: warning: ...`` on stderr. Others as usual."""
    if not getattr(category, "__module__", "").startswith("trainkit"):
        return _default(message, category, filename, lineno, file, line)
    text = f"{category.__name__}: {message}"
    if logging.getLogger().handlers:
        logging.getLogger("trainkit").warning("%s", text)
    else:
        print(f"trainkit: warning: {text}", file=sys.stderr, flush=True)
    return None


@contextlib.contextmanager
def warnings_as_lines():
    saved = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = saved


def load_plugins():
    """Load the plugin manager and register the generated config nodes; errors become messages."""
    from ..config import register_configs

    register_configs()
