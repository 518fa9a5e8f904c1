"""2D drawing on RGB uint8 images: labels, the keypoint skeleton, colour bars, grids, image files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from handmesh.atomic import atomic_path
from handmesh.data.augment import IMAGENET_MEAN, IMAGENET_STD
from handmesh.mano.constants import KEYPOINT_PARENTS, NUM_KEYPOINTS

# FreiHAND / OpenPose bones in order: (parent, child) for keypoints 1..20 (wrist -> thumb 1-4, index 5-8, ...).
BONES: tuple[tuple[int, int], ...] = tuple((KEYPOINT_PARENTS[i], i) for i in range(1, NUM_KEYPOINTS))
# One colour per finger (RGB): thumb, index, middle, ring, pinky.
FINGER_COLORS: tuple[tuple[int, int, int], ...] = (
    (230, 57, 70), (244, 162, 54), (82, 183, 90), (52, 140, 230), (170, 90, 210)
)  # fmt: skip
WRIST_COLOR = (255, 255, 255)


def bone_color(child: int) -> tuple[int, int, int]:
    """The finger colour of the bone ending at keypoint `child` (1..20)."""
    return FINGER_COLORS[(child - 1) // 4]


def label(image: np.ndarray, text: str, org: tuple[int, int] = (4, 14), scale: float = 0.4) -> np.ndarray:
    """A copy of `image` with white text outlined in black (readable on any background)."""
    out = np.ascontiguousarray(image).copy()
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def project_points(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (N, 3) with K (3, 3) -> pixels (N, 2) (OpenCV convention)."""
    uvw = np.asarray(points, dtype=np.float64) @ np.asarray(K, dtype=np.float64).T
    return uvw[:, :2] / uvw[:, 2:]


def draw_skeleton(
    image: np.ndarray,
    uv: np.ndarray,
    thickness: int = 2,
    radius: int = 3,
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A copy of `image` (H, W, 3 RGB) with the 21-keypoint skeleton `uv` (21, 2 pixels) drawn bone by bone
    in FreiHAND's order, coloured per finger (or all in `color`)."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(f"keypoints must be ({NUM_KEYPOINTS}, 2) pixels, got {uv.shape}")
    out = np.ascontiguousarray(image).copy()
    if not np.isfinite(uv).all():
        return out
    shift = 4  # sub-pixel precision for cv2
    pts = np.round(uv * (1 << shift)).astype(np.int64)
    for parent, child in BONES:
        c = color or bone_color(child)
        cv2.line(out, tuple(map(int, pts[parent])), tuple(map(int, pts[child])), c, thickness, cv2.LINE_AA, shift)
    for k in range(NUM_KEYPOINTS):
        c = color or (WRIST_COLOR if k == 0 else bone_color(k))
        cv2.circle(out, tuple(map(int, pts[k])), radius << shift, c, -1, cv2.LINE_AA, shift)
    return out


def colormap(values: np.ndarray, vmax: float, name: str = "turbo") -> np.ndarray:
    """Values in [0, vmax] -> RGB floats in [0, 1] (N, 3) through a matplotlib colormap (clipped above vmax)."""
    from matplotlib import colormaps

    t = np.clip(np.asarray(values, dtype=np.float64) / max(float(vmax), 1e-12), 0.0, 1.0)
    return colormaps[name](t)[..., :3]


def colorbar(height: int, vmax: float, unit: str = "mm", name: str = "turbo", width: int = 64) -> np.ndarray:
    """A vertical colour bar (height, width, 3) uint8 for [0, vmax]: high values at the top, ticks labelled."""
    out = np.full((height, width, 3), 255, np.uint8)
    top, bottom, bar_w = 14, height - 10, 14
    span = max(bottom - top, 2)
    values = np.linspace(vmax, 0.0, span)
    out[top:bottom, 4 : 4 + bar_w] = (colormap(values, vmax, name) * 255).astype(np.uint8)[:, None]
    cv2.rectangle(out, (4, top), (4 + bar_w, bottom - 1), (0, 0, 0), 1)
    for frac in (0.0, 0.5, 1.0):
        y = int(round(bottom - 1 - frac * (span - 1)))
        cv2.line(out, (4 + bar_w, y), (8 + bar_w, y), (0, 0, 0), 1)
        cv2.putText(out, f"{frac * vmax:.3g}", (10 + bar_w, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)  # fmt: skip
    cv2.putText(out, unit, (4, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def hstack(tiles: Sequence[np.ndarray], pad: int = 0, fill: int = 255) -> np.ndarray:
    """Tiles side by side, top-aligned, padded to the tallest with `fill`."""
    height = max(t.shape[0] for t in tiles)
    parts = []
    for i, t in enumerate(tiles):
        if t.shape[0] < height:
            t = np.concatenate([t, np.full((height - t.shape[0], *t.shape[1:]), fill, np.uint8)], axis=0)
        parts.append(t)
        if pad and i < len(tiles) - 1:
            parts.append(np.full((height, pad, 3), fill, np.uint8))
    return np.concatenate(parts, axis=1)


def image_grid(rows: Sequence[np.ndarray], pad: int = 4, fill: int = 255, title: str | None = None) -> np.ndarray:
    """Rows (H_i, W_i, 3) stacked vertically (left-aligned, padded to the widest), with an optional title banner."""
    if not rows:
        raise ValueError("image_grid needs at least one row")
    width = max(r.shape[1] for r in rows)
    parts = []
    if title:
        banner = np.full((22, width, 3), fill, np.uint8)
        cv2.putText(banner, title, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        parts.append(banner)
    for i, r in enumerate(rows):
        if r.shape[1] < width:
            r = np.concatenate([r, np.full((r.shape[0], width - r.shape[1], 3), fill, np.uint8)], axis=1)
        parts.append(r)
        if pad and i < len(rows) - 1:
            parts.append(np.full((pad, width, 3), fill, np.uint8))
    return np.concatenate(parts, axis=0)


def denormalize_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A network input (3, S, S) normalised with ImageNet mean/std (RGB) -> RGB uint8 (S, S, 3)."""
    x = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a normalised image (3, H, W), got {x.shape}")
    rgb = x.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def save_image(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image (PNG/JPEG by suffix) atomically; an error names the file."""
    path = Path(path)
    with atomic_path(path) as tmp:  # the temporary name keeps the suffix, which picks the format
        if not cv2.imwrite(str(tmp), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write image {path} (unsupported suffix or unwritable folder)")
    return path
