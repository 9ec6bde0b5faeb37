"""Shared fixtures: fixed seeds, a non-interactive plotting backend, and paths."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float64")

#: Real-format instrument files shared beside the repository (never copied into it).
SHARED_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "formats"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20251124)


@pytest.fixture
def shared_formats() -> Path:
    if not SHARED_FORMATS.is_dir():
        pytest.skip(f"shared instrument files not found at {SHARED_FORMATS}")
    return SHARED_FORMATS
