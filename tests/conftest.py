"""Shared fixtures: the procedural stand-in hand model, written once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


@pytest.fixture(scope="session")
def standin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A right-hand stand-in model pickle (official layout)."""
    from handmesh.mano.standin import write_standin

    return write_standin(tmp_path_factory.mktemp("mano") / "standin_MANO_RIGHT.pkl", side="right")


@pytest.fixture(scope="session")
def standin_left_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A left-hand stand-in model pickle."""
    from handmesh.mano.standin import write_standin

    return write_standin(tmp_path_factory.mktemp("mano") / "standin_MANO_LEFT.pkl", side="left")


@pytest.fixture(scope="session")
def hand_model(standin_path: Path):
    """float64 right HandModel on the stand-in (FreiHAND convention: relative to hands_mean)."""
    import torch

    from handmesh.mano.hand_model import HandModel

    return HandModel(standin_path, dtype=torch.float64)
