"""Left hands by mirroring (DESIGN.md §4): a left hand in an image is a right hand in the mirrored image.

Mirroring is across the camera's y-z plane: 3D points get x -> -x, images are flipped left-right, and
the intrinsics follow so that projection commutes with the flip: a point X projecting to pixel
column u in the original image, mirrored to (-x, y, z), projects to column `W - 1 - u` in the
flipped image (OpenCV pixel centres at integer coordinates, as everywhere in this package). A mirrored
mesh keeps outward normals only with reversed face winding. Rotations R become M R M, M = diag(-1, 1, 1),
which turns right-hand MANO joint rotations into the left-hand model's. Works on numpy arrays and
torch tensors alike.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

_SIGN = (-1.0, 1.0, 1.0)


def _sign_like(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return torch.tensor(_SIGN, dtype=x.dtype, device=x.device)
    return np.asarray(_SIGN, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)


def mirror_points(points: Array) -> Array:
    """(..., 3) points with x negated."""
    return points * _sign_like(points)


def reverse_winding(faces: Array) -> Array:
    """(F, 3) faces with the winding reversed (outward normals again after `mirror_points`)."""
    return faces[..., [0, 2, 1]]


def mirror_rotations(rotmats: Array) -> Array:
    """(..., 3, 3) rotations R -> M R M with M = diag(-1, 1, 1)."""
    m = _sign_like(rotmats)
    return rotmats * m[:, None] * m[None, :]


def mirror_intrinsics(K: Array, width: int) -> Array:
    """(..., 3, 3) intrinsics of the image flipped left-right (`width` pixels wide): cx -> W - 1 - cx, skew -> -skew."""
    out = K.clone() if isinstance(K, torch.Tensor) else np.array(K, copy=True)
    out[..., 0, 2] = (width - 1) - K[..., 0, 2]
    out[..., 0, 1] = -K[..., 0, 1]
    return out


def mirror_images(images: Array) -> Array:
    """Flip images left-right: tensors (..., C, H, W) along W; numpy images (H, W[, C]) along W."""
    if isinstance(images, torch.Tensor):
        return torch.flip(images, dims=(-1,))
    if images.ndim not in (2, 3):
        raise ValueError(f"numpy images must be (H, W) or (H, W, C), got shape {images.shape}")
    return np.ascontiguousarray(images[:, ::-1])


def mirror_pixels(uv: Array, width: int) -> Array:
    """(..., 2) pixel coordinates in the flipped image: u -> W - 1 - u."""
    out = uv.clone() if isinstance(uv, torch.Tensor) else np.array(uv, copy=True)
    out[..., 0] = (width - 1) - uv[..., 0]
    return out
