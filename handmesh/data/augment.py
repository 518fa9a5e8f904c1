"""Crop/resize + augmentation as ONE affine warp, applied consistently to image and annotations.

Defaults follow METRO's FreiHAND recipe (DESIGN.md §6): in-plane rotation N(0, 90 deg) (clipped at
2 std) with probability 0.4, zoom N(1, 0.25) clipped to [0.75, 1.25], per-channel colour scale
U[0.6, 1.4], no flip, no translation jitter (`translation_std = 0.0`; 0.05 is a sensible option).

Geometry (pure numpy, pixel coordinates with OpenCV's convention, x right, y down):
- the source image is mapped to the S x S network input by the 2x3 affine
  `u_out = (S / side) * zoom * R(theta) @ (u - p) + (S - 1) / 2`, p the crop centre;
- an in-plane rotation R(theta) of the image equals rotating the 3D points about the camera z axis
  by Rz(theta) (same angle, same sign: [[cos, -sin], [sin, cos]] on (x, y)), and the intrinsics
  become `K_new = M3 @ K @ Rz^T` (M3 the 3x3 form of the affine), so that `project(Rz X, K_new)`
  equals the warped pixel of `project(X, K)` exactly;
- the MANO global orientation becomes `Rz @ R_global`; root-relative points simply rotate by Rz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # RGB
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation (all draws independent per sample). Set a probability/std to 0 to disable."""

    rotation_std_deg: float = 90.0  # in-plane rotation std, degrees
    rotation_prob: float = 0.4  # probability of rotating at all
    rotation_clip_std: float = 2.0  # rotation clipped to +- this many std
    scale_std: float = 0.25  # zoom factor ~ N(1, scale_std), > 1 makes the hand bigger
    scale_min: float = 0.75
    scale_max: float = 1.25
    translation_std: float = 0.0  # crop-centre jitter ~ N(0, std) per axis, fraction of the image side
    color_min: float = 0.6  # per-channel colour scale ~ U[color_min, color_max]
    color_max: float = 1.4


DEFAULT_AUGMENT = AugmentConfig()  # the recipe's augmentation (frozen: safe as a default argument)


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the augmentation (the identity by default)."""

    rotation: float = 0.0  # radians; positive turns x towards y (clockwise on screen)
    scale: float = 1.0  # zoom
    shift: tuple[float, float] = (0.0, 0.0)  # crop-centre offset, fraction of source width/height
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)  # RGB multipliers


def sample_augment(cfg: AugmentConfig, rng: np.random.Generator) -> AugmentParams:
    """Draw augmentation parameters from `cfg`."""
    rotation = 0.0
    if cfg.rotation_prob > 0 and rng.random() < cfg.rotation_prob:
        std = math.radians(cfg.rotation_std_deg)
        rotation = float(np.clip(rng.normal(0.0, std), -cfg.rotation_clip_std * std, cfg.rotation_clip_std * std))
    scale = float(np.clip(rng.normal(1.0, cfg.scale_std), cfg.scale_min, cfg.scale_max)) if cfg.scale_std > 0 else 1.0
    shift = (0.0, 0.0)
    if cfg.translation_std > 0:
        sx, sy = rng.normal(0.0, cfg.translation_std, size=2)
        shift = (float(sx), float(sy))
    color = tuple(float(c) for c in rng.uniform(cfg.color_min, cfg.color_max, size=3))
    return AugmentParams(rotation=rotation, scale=scale, shift=shift, color=color)  # type: ignore[arg-type]


def rotation_z(theta: float) -> np.ndarray:
    """(3, 3) rotation about the camera z axis; its top-left 2x2 block is the image-plane rotation."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def crop_matrix(src_size: tuple[int, int], out_size: int, params: AugmentParams = AugmentParams()) -> np.ndarray:
    """The (2, 3) affine from source pixels (width, height) to the out_size x out_size input.

    Without augmentation it is a plain resize of a square source (identity at equal size); the
    crop side is the longer source side (a non-square source is padded, not cropped).
    """
    w, h = src_size
    side = float(max(w, h))
    p = np.array([(w - 1) / 2 + params.shift[0] * w, (h - 1) / 2 + params.shift[1] * h])
    a = (out_size / side) * params.scale * rotation_z(params.rotation)[:2, :2]
    t = (out_size - 1) / 2 - a @ p
    return np.concatenate([a, t[:, None]], axis=1)


def _as3x3(M: np.ndarray) -> np.ndarray:
    return np.concatenate([M, np.array([[0.0, 0.0, 1.0]])], axis=0)


def transform_points2d(uv: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) through the affine M (2, 3)."""
    return uv @ M[:, :2].T + M[:, 2]


def transform_intrinsics(K: np.ndarray, M: np.ndarray, theta: float) -> np.ndarray:
    """Intrinsics after the warp M whose rotation part is theta: `K_new = M3 @ K @ Rz(theta)^T`."""
    return _as3x3(M) @ K @ rotation_z(theta).T


def rotate_points(points: np.ndarray, theta: float) -> np.ndarray:
    """3D points (N, 3) in the camera frame rotated by Rz(theta) about the camera z axis."""
    return points @ rotation_z(theta).T


def rotate_global_orient(axis_angle: np.ndarray, theta: float) -> np.ndarray:
    """Axis-angle global orientation (3,) -> that of `Rz(theta) @ R`."""
    R, _ = cv2.Rodrigues(np.asarray(axis_angle, dtype=np.float64).reshape(3, 1))
    aa, _ = cv2.Rodrigues(rotation_z(theta) @ R)
    return aa.reshape(3)


def is_identity_warp(M: np.ndarray, src_size: tuple[int, int], out_size: int) -> bool:
    """True when M maps the source onto itself (no resampling needed)."""
    return src_size == (out_size, out_size) and np.allclose(M, np.eye(2, 3), atol=1e-9)


def warp_image(image: np.ndarray, M: np.ndarray, out_size: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp an image (H, W[, C]) with M (2, 3) to out_size x out_size; outside pixels are black."""
    src_size = (image.shape[1], image.shape[0])
    if is_identity_warp(M, src_size, out_size):
        return image
    return cv2.warpAffine(
        image, M, (out_size, out_size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def normalize_image(image_bgr: np.ndarray, color: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """uint8 BGR (H, W, 3) -> float32 RGB (3, H, W): colour scale (clipped at 255), ImageNet mean/std."""
    gain = np.asarray(color, dtype=np.float32) / 255.0
    x = image_bgr[..., ::-1].astype(np.float32)  # RGB copy
    x *= gain
    np.minimum(x, 1.0, out=x)
    x -= IMAGENET_MEAN
    x /= IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))
