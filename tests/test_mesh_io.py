"""Mesh export (.obj / .ply via trimesh) with and without vertex colours, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from handmesh.mesh_io import load_mesh, save_mesh, save_meshes
from handmesh.visualize import error_colors


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_round_trip_with_and_without_colours(suffix: str, hand_model, tmp_path: Path) -> None:
    v = hand_model.v_template.numpy()
    f = hand_model.faces.numpy()
    plain = save_mesh(tmp_path / f"plain{suffix}", v, f)
    v2, f2, c2 = load_mesh(plain)
    np.testing.assert_allclose(v2, v, atol=1e-7)
    np.testing.assert_array_equal(f2, f)  # same vertex order and winding
    assert c2 is None
    colors = error_colors(np.linspace(0, 10, len(v)), 10.0)  # floats in [0, 1]
    coloured = save_mesh(tmp_path / f"coloured{suffix}", v, f, colors)
    v3, f3, c3 = load_mesh(coloured)
    np.testing.assert_array_equal(f3, f)
    assert c3.shape == (len(v), 4)
    np.testing.assert_array_equal(c3[:, :3], np.round(colors * 255).astype(np.uint8))
    # Other tools read it too (trimesh's own loader, no processing).
    mesh = trimesh.load(coloured, process=False)
    assert len(mesh.vertices) == 778 and len(mesh.faces) == 1538


def test_uint8_rgba_colours_and_batches(hand_model, tmp_path: Path) -> None:
    v = hand_model.v_template.numpy()
    f = hand_model.faces.numpy()
    rgba = np.tile(np.array([[10, 20, 30, 255]], np.uint8), (len(v), 1))
    _, _, c = load_mesh(save_mesh(tmp_path / "a.ply", v, f, rgba))
    np.testing.assert_array_equal(c, rgba)
    paths = save_meshes(tmp_path / "batch", np.stack([v, v + 0.01]), f, names=["left", "right"], suffix=".ply")
    assert [p.name for p in paths] == ["left.ply", "right.ply"]
    np.testing.assert_allclose(load_mesh(paths[1])[0], v + 0.01, atol=1e-7)


def test_errors_name_the_file(hand_model, tmp_path: Path) -> None:
    v = hand_model.v_template.numpy()
    f = hand_model.faces.numpy()
    with pytest.raises(ValueError, match=r"mesh\.stl.*unsupported"):
        save_mesh(tmp_path / "mesh.stl", v, f)
    with pytest.raises(ValueError, match=r"bad\.obj.*vertex colours"):
        save_mesh(tmp_path / "bad.obj", v, f, np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"nan\.obj.*NaN"):
        save_mesh(tmp_path / "nan.obj", np.full_like(v, np.nan), f)
    with pytest.raises(ValueError, match=r"ids\.obj.*face ids"):
        save_mesh(tmp_path / "ids.obj", v[:10], f)
    with pytest.raises(FileNotFoundError, match="missing.obj"):
        load_mesh(tmp_path / "missing.obj")
    assert not list(tmp_path.iterdir())  # nothing half-written
