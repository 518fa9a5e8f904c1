"""Mesh export (.obj / .ply) through trimesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh


def save_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write a triangle mesh; the format follows the suffix (.obj, .ply, ...).

    vertices (V, 3) metres; faces (F, 3); colors optional per-vertex (V, 3|4) uint8 or floats in [0, 1].
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if colors is not None and np.issubdtype(np.asarray(colors).dtype, np.floating):
        colors = (np.clip(colors, 0.0, 1.0) * 255).astype(np.uint8)
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, vertex_colors=colors, process=False)
    tmp = path.with_name(path.name + ".tmp")
    mesh.export(tmp, file_type=path.suffix.lstrip("."))
    tmp.replace(path)
    return path
