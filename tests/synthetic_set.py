"""A small synthetic FreiHAND-format set, generated once per test session (import the fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TRAIN, EVAL, SEED = 6, 4, 7


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory, standin_path: Path) -> Path:
    """A synthetic set (6 training x 4 versions, 4 evaluation) from the stand-in; do not modify it."""
    from handmesh.data.synthetic import ensure_synthetic

    # A fixed folder: test modules importing this fixture share one generation (ensure_* skips a complete set).
    return ensure_synthetic(tmp_path_factory.getbasetemp() / "synthetic_freihand", TRAIN, EVAL, SEED, standin_path)


def copy_set(root: Path, dest: Path) -> Path:
    """A private copy of the set to damage (without parsed-JSON caches)."""
    return Path(shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".handmesh_cache")))
