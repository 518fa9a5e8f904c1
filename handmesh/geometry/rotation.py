"""Rotation representations: axis-angle, rotation matrices and the continuous 6D form.

Pure tensor code, batched over any leading dimensions. Conventions:
- axis-angle: (..., 3), the direction is the axis and the norm the angle in radians;
- rotation matrix: (..., 3, 3), acting on column vectors (x' = R @ x);
- 6D (Zhou et al., CVPR 2019): (..., 6), the first two COLUMNS of R, as [r00, r10, r20, r01, r11, r21].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _skew(v: Tensor) -> Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrix [v]_x."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula, exact at zero (Taylor terms below 1e-4 rad). (..., 3) -> (..., 3, 3)."""
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)  # (..., 1)
    theta = theta2.clamp_min(1e-24).sqrt()
    small = theta2 < 1e-8
    # sin(t)/t and (1 - cos(t))/t^2, with their series where t is tiny.
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2.clamp_min(1e-24))
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(k)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """(..., 3, 3) -> unit quaternion (..., 4) as (w, x, y, z) with w >= 0.

    Uses the numerically best-conditioned of the four classical formulas for each input.
    """
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * q_i^2 for each component (clamped: rounding can make them slightly negative).
    q_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    ).clamp_min(0.0)
    q_abs = q_sq.sqrt()  # (..., 4) = 2|q_i|
    # Candidate quaternions, each computed from one large component (rows: w, x, y, z largest).
    cands = torch.stack(
        [
            torch.stack(
                [q_sq[..., 0], m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]],
                dim=-1,
            ),
            torch.stack(
                [m[..., 2, 1] - m[..., 1, 2], q_sq[..., 1], m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]],
                dim=-1,
            ),
            torch.stack(
                [m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1], q_sq[..., 2], m[..., 2, 1] + m[..., 1, 2]],
                dim=-1,
            ),
            torch.stack(
                [m[..., 1, 0] - m[..., 0, 1], m[..., 2, 0] + m[..., 0, 2], m[..., 2, 1] + m[..., 1, 2], q_sq[..., 3]],
                dim=-1,
            ),
        ],
        dim=-2,
    )  # (..., 4, 4)
    cands = cands / (2.0 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(dim=-1)  # (...,)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """(w, x, y, z) (..., 4) -> axis-angle (..., 3) with angle in [0, pi]."""
    q = torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    xyz = q[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    half = torch.atan2(sin_half, q[..., :1])
    # angle / sin(angle/2) = 2 * half / sin(half), -> 2 as half -> 0.
    small = sin_half < 1e-6
    scale = torch.where(small, 2.0 + half * half / 3.0, 2.0 * half / sin_half.clamp_min(1e-12))
    return xyz * scale


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 3), angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d: Tensor) -> Tensor:
    """6D -> rotation matrix by Gram-Schmidt. (..., 6) -> (..., 3, 3)."""
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)  # columns


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, column by column."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)
