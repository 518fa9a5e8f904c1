"""A reference silhouette rasteriser for tests: which pixel CENTRES (OpenCV convention: pixel (x, y) has its
centre at integer coordinates (x, y)) lie inside any projected triangle. Slow but obviously right."""

from __future__ import annotations

import cv2
import numpy as np


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection: points (N, 3), K (3, 3) -> pixels (N, 2)."""
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def rasterize(uv: np.ndarray, faces: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Silhouette (H, W) bool of the triangles `faces` (F, 3) over 2D vertices `uv` (V, 2), size = (W, H)."""
    width, height = size
    out = np.zeros((height, width), bool)
    for a, b, c in uv[faces]:  # each (2,)
        if abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-12:
            continue  # degenerate: covers no pixel centre
        lo = np.floor(np.minimum(np.minimum(a, b), c)).astype(int)
        hi = np.ceil(np.maximum(np.maximum(a, b), c)).astype(int) + 1
        x0, y0 = max(lo[0], 0), max(lo[1], 0)
        x1, y1 = min(hi[0], width), min(hi[1], height)
        if x0 >= x1 or y0 >= y1:
            continue
        y, x = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        e = [(q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]) for p, q in ((a, b), (b, c), (c, a))]
        inside = ((e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)) | ((e[0] <= 0) & (e[1] <= 0) & (e[2] <= 0))
        out[y0:y1, x0:x1] |= inside
    return out


def boundary_band(silhouette: np.ndarray) -> np.ndarray:
    """Pixels (H, W) bool within one pixel (8-neighbourhood) of the silhouette's edge."""
    kernel = np.ones((3, 3), np.uint8)
    s = silhouette.astype(np.uint8)
    return cv2.dilate(s, kernel).astype(bool) & ~cv2.erode(s, kernel).astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks."""
    return float((a & b).sum() / max((a | b).sum(), 1))
