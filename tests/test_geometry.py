"""Rotations and cameras: pure tensor geometry."""

from __future__ import annotations

import math

import torch

from handmesh.geometry.camera import (
    normalized_to_pixels,
    pixels_to_normalized,
    project,
    translation_to_weak_perspective,
    weak_perspective_project,
    weak_perspective_to_translation,
)
from handmesh.geometry.rotation import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
)

g = torch.Generator().manual_seed(0)


def test_axis_angle_round_trip_and_orthonormal() -> None:
    aa = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(2000, 1, generator=g, dtype=torch.float64) * math.pi
    R = axis_angle_to_matrix(aa)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(R @ R.transpose(-1, -2), eye.expand_as(R), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(2000, dtype=torch.float64))
    assert torch.allclose(matrix_to_axis_angle(R), aa, atol=1e-9)


def test_known_rotation_and_small_angles() -> None:
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    x, y = torch.eye(3, dtype=torch.float64)[:2]
    assert torch.allclose(R @ x, y)
    tiny = torch.tensor([[1e-9, -2e-9, 3e-9]], dtype=torch.float64)
    assert torch.allclose(matrix_to_axis_angle(axis_angle_to_matrix(tiny)), tiny, atol=1e-15)
    near_pi = torch.tensor([[0.0, math.pi - 1e-7, 0.0]], dtype=torch.float64)
    back = axis_angle_to_matrix(matrix_to_axis_angle(axis_angle_to_matrix(near_pi)))
    assert torch.allclose(back, axis_angle_to_matrix(near_pi), atol=1e-9)


def test_rot6d() -> None:
    R = axis_angle_to_matrix(torch.randn(100, 3, generator=g, dtype=torch.float64))
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(R)), R, atol=1e-12)
    # Any 6 numbers (not collinear) give a proper rotation.
    R2 = rot6d_to_matrix(torch.randn(100, 6, generator=g, dtype=torch.float64))
    assert torch.allclose(torch.linalg.det(R2), torch.ones(100, dtype=torch.float64))


def test_weak_perspective_round_trip_and_equivalence() -> None:
    S = 224
    n = 8
    f = 300 + 400 * torch.rand(n, generator=g, dtype=torch.float64)
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 0] = K[:, 1, 1] = f
    K[:, 0, 2] = 100 + 20 * torch.rand(n, generator=g, dtype=torch.float64)
    K[:, 1, 2] = 100 + 20 * torch.rand(n, generator=g, dtype=torch.float64)
    K[:, 2, 2] = 1
    cam = torch.stack(
        [1 + 8 * torch.rand(n, generator=g), 0.1 * torch.randn(n, generator=g), 0.1 * torch.randn(n, generator=g)], -1
    ).double()
    T = weak_perspective_to_translation(cam, K, S)
    assert torch.allclose(translation_to_weak_perspective(T, K, S), cam, atol=1e-12)
    T2 = torch.tensor([[0.01, -0.02, 0.7]], dtype=torch.float64).expand(n, 3)
    assert torch.allclose(weak_perspective_to_translation(translation_to_weak_perspective(T2, K, S), K, S), T2)
    # For points in the plane z = 0 (root-relative), weak perspective equals the pinhole projection.
    pts = torch.randn(n, 30, 3, generator=g, dtype=torch.float64) * 0.05
    pts[..., 2] = 0
    weak = weak_perspective_project(pts, cam)
    pinhole = pixels_to_normalized(project(pts + T[:, None], K), S)
    assert torch.allclose(weak, pinhole, atol=1e-12)
    assert torch.allclose(normalized_to_pixels(weak, S), project(pts + T[:, None], K), atol=1e-9)
