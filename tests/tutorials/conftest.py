"""Fixtures of the tutorial tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def torch_if_any():
    """PyTorch when importable, else None: a tutorial test runs either way and compares when it can."""
    try:
        import torch
    except ImportError:
        return None
    return torch
