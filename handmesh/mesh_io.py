"""Mesh export and import (.obj / .ply) through trimesh, with optional per-vertex colours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from handmesh.atomic import atomic_write

MESH_FORMATS = (".obj", ".ply")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in MESH_FORMATS:
        raise ValueError(f"{path}: unsupported mesh format {suffix or '(no suffix)'!r}; use one of {MESH_FORMATS}")
    return suffix.lstrip(".")


def _colors_uint8(colors: np.ndarray, count: int, path: Path) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[0] != count or colors.shape[1] not in (3, 4):
        raise ValueError(f"{path}: vertex colours must be ({count}, 3) or ({count}, 4), got {colors.shape}")
    if np.issubdtype(colors.dtype, np.floating):
        colors = np.round(np.clip(colors, 0.0, 1.0) * 255)
    return colors.astype(np.uint8)


def save_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write a triangle mesh (.obj or .ply, by suffix) atomically; returns the path.

    vertices (V, 3) metres; faces (F, 3) vertex ids; colors optional per-vertex (V, 3|4), uint8 or
    floats in [0, 1] (written as 8-bit RGB(A): PLY vertex properties, OBJ `v x y z r g b` lines).
    """
    path = Path(path)
    file_type = _check_suffix(path)
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"{path}: vertices must be (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"{path}: faces must be integer (F, 3), got {faces.dtype} {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"{path}: face ids must lie in [0, {len(vertices)}), got [{faces.min()}, {faces.max()}]")
    if not np.isfinite(vertices).all():
        raise ValueError(f"{path}: vertices contain NaN or infinite values")
    rgba = None if colors is None else _colors_uint8(colors, len(vertices), path)
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, vertex_colors=rgba, process=False)
    kwargs = {"include_color": rgba is not None, "include_normals": False, "include_texture": False}
    data = mesh.export(file_type=file_type, **(kwargs if file_type == "obj" else {}))
    return atomic_write(path, data.encode() if isinstance(data, str) else data)


def load_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a mesh written by `save_mesh`: vertices (V, 3) float64, faces (F, 3) int64 and colours
    (V, 4) uint8 RGBA or None. Vertex order and ids are kept as stored."""
    path = Path(path)
    _check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    try:
        mesh = trimesh.load(path, process=False, force="mesh")
    except Exception as exc:  # trimesh raises many types on malformed files
        raise ValueError(f"{path}: could not read mesh ({type(exc).__name__}: {exc})") from exc
    colors = None
    if mesh.visual.kind == "vertex":
        colors = np.asarray(mesh.visual.vertex_colors, dtype=np.uint8)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64), colors


def save_meshes(
    folder: str | Path,
    vertices: np.ndarray,
    faces: np.ndarray,
    names: Sequence[str] | None = None,
    suffix: str = ".obj",
    colors: np.ndarray | None = None,
) -> list[Path]:
    """Write a batch of meshes (N, V, 3) sharing `faces` as `<folder>/<name><suffix>`.

    names default to zero-padded indices; colors optional (N, V, 3|4) per mesh.
    """
    vertices = np.asarray(vertices)
    if vertices.ndim != 3:
        raise ValueError(f"{folder}: a batch of vertices must be (N, V, 3), got {vertices.shape}")
    names = list(names) if names is not None else [f"{i:08d}" for i in range(len(vertices))]
    if len(names) != len(vertices):
        raise ValueError(f"{folder}: {len(names)} names for {len(vertices)} meshes")
    folder = Path(folder)
    return [
        save_mesh(folder / f"{name}{suffix}", v, faces, None if colors is None else colors[i])
        for i, (name, v) in enumerate(zip(names, vertices, strict=True))
    ]
