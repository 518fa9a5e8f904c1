"""Cameras: pinhole projection and the weak-perspective camera of the network head.

Weak perspective (DESIGN.md §5): for a network input of size S (pixels), the head predicts
(s, tx, ty) such that the normalised image coordinates (in [-1, 1]) of a root-relative 3D point X
are `s * (X_xy + [tx, ty])`. With the input's intrinsics (fx, fy, cx, cy) this equals a perspective
camera with the hand translated by `T = [tx - (2 cx / S - 1) / s, ty - (2 cy / S - 1) / s, 2 f / (S s)]`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def project(points: Tensor, K: Tensor) -> Tensor:
    """Pinhole projection (OpenCV): points (B, N, 3) camera frame, K (B, 3, 3) -> pixels (B, N, 2)."""
    uvw = points @ K.transpose(-1, -2)
    return uvw[..., :2] / uvw[..., 2:]


def pixels_to_normalized(uv: Tensor, size: int) -> Tensor:
    """Pixel coordinates -> normalised coordinates in [-1, 1] of an S x S image (pixel centres at +0.5
    are not used: 0 maps to -1 and S maps to +1, matching `2 c / S - 1` for the principal point)."""
    return uv * (2.0 / size) - 1.0


def normalized_to_pixels(xy: Tensor, size: int) -> Tensor:
    """Inverse of `pixels_to_normalized`."""
    return (xy + 1.0) * (size / 2.0)


def weak_perspective_project(points: Tensor, cam: Tensor) -> Tensor:
    """Root-relative points (B, N, 3) and cam (B, 3) = (s, tx, ty) -> normalised coords (B, N, 2)."""
    s, t = cam[:, None, :1], cam[:, None, 1:]
    return s * (points[..., :2] + t)


def _focal_and_centre(K: Tensor) -> tuple[Tensor, Tensor]:
    f = 0.5 * (K[:, 0, 0] + K[:, 1, 1])  # (B,)
    return f, K[:, :2, 2]  # (B,), (B, 2)


def weak_perspective_to_translation(cam: Tensor, K: Tensor, size: int) -> Tensor:
    """(s, tx, ty) (B, 3) + input intrinsics K (B, 3, 3) -> camera-frame translation T (B, 3)."""
    f, c = _focal_and_centre(K)
    s = cam[:, 0]
    txy = cam[:, 1:] - (2.0 * c / size - 1.0) / s[:, None]
    tz = 2.0 * f / (size * s)
    return torch.cat([txy, tz[:, None]], dim=-1)


def translation_to_weak_perspective(transl: Tensor, K: Tensor, size: int) -> Tensor:
    """Inverse of `weak_perspective_to_translation`: T (B, 3) + K (B, 3, 3) -> (s, tx, ty) (B, 3)."""
    f, c = _focal_and_centre(K)
    s = 2.0 * f / (size * transl[:, 2])
    txy = transl[:, :2] + (2.0 * c / size - 1.0) / s[:, None]
    return torch.cat([s[:, None], txy], dim=-1)
