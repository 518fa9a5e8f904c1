"""Mesh renders: over the input image with its intrinsics, and from the side and from above."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handmesh.render.renderer import Material, Renderer

PRED_MATERIAL = Material(base_color=(0.35, 0.6, 0.95, 1.0))
GT_MATERIAL = Material(base_color=(0.95, 0.75, 0.45, 1.0))

# name -> (yaw about the camera's y axis, pitch about its x axis), degrees: the camera orbits the mesh.
VIEWS: dict[str, tuple[float, float]] = {"front": (0.0, 0.0), "side": (90.0, 0.0), "top": (0.0, 90.0)}


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Rotation of the mesh equivalent to orbiting the camera: yaw 90 shows the camera's +x side, pitch 90
    the top (-y, OpenCV y points down)."""
    a, b = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    ry = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    return rx @ ry


def mesh_extent(vertices: np.ndarray) -> float:
    """Radius of the mesh around its bounding-box centre (metres): frames every view alike."""
    v = np.asarray(vertices, dtype=np.float64)
    centre = 0.5 * (v.max(axis=0) + v.min(axis=0))
    return float(np.linalg.norm(v - centre, axis=1).max())


def orbit_camera(
    vertices: np.ndarray, view: str | tuple[float, float], size: int, extent: float | None = None,
    centre: np.ndarray | None = None, fill: float = 0.85,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Vertices moved into a virtual camera looking at the mesh from `view`, and that camera's K (size x size).

    view: a name in `VIEWS` or (yaw, pitch) degrees. extent/centre: framing (default: this mesh's), pass
    the same ones to draw two meshes at the same scale and place.
    """
    yaw, pitch = VIEWS[view] if isinstance(view, str) else view
    v = np.asarray(vertices, dtype=np.float64)
    centre = 0.5 * (v.max(axis=0) + v.min(axis=0)) if centre is None else np.asarray(centre, np.float64)
    extent = mesh_extent(v) if extent is None else float(extent)
    distance = 0.5  # metres; any value works, the focal length scales with it
    focal = fill * 0.5 * size * distance / max(extent, 1e-6)
    K = np.array([[focal, 0.0, (size - 1) / 2], [0.0, focal, (size - 1) / 2], [0.0, 0.0, 1.0]])
    moved = (v - centre) @ _rotation(yaw, pitch).T + np.array([0.0, 0.0, distance])
    return moved, K


def render_overlay(
    renderer: Renderer, image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, K: np.ndarray,
    material: Material = PRED_MATERIAL, colors: np.ndarray | None = None, alpha: float = 0.8,
) -> np.ndarray:  # fmt: skip
    """The mesh (camera frame) rendered with the image's K over the image (H, W, 3 RGB uint8)."""
    return renderer.overlay(image, vertices, faces, K, alpha=alpha, material=material, vertex_colors=colors)


def render_views(
    renderer: Renderer, vertices: np.ndarray, faces: np.ndarray, size: int,
    views: Sequence[str | tuple[float, float]] = ("side", "top"), material: Material = PRED_MATERIAL,
    colors: np.ndarray | None = None, extent: float | None = None, centre: np.ndarray | None = None,
) -> list[np.ndarray]:  # fmt: skip
    """The mesh seen from each of `views` (default side and top), each (size, size, 3) RGB on white."""
    tiles = []
    for view in views:
        v, K = orbit_camera(vertices, view, size, extent=extent, centre=centre)
        tiles.append(renderer.render(v, faces, K, (size, size), vertex_colors=colors, material=material).rgb)
    return tiles
