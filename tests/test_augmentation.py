"""Augmentation geometry: one affine for image, 2D points, K, 3D points and global orientation."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from handmesh.data.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugmentParams,
    crop_matrix,
    normalize_image,
    rotate_global_orient,
    rotate_points,
    rotation_z,
    sample_augment,
    transform_intrinsics,
    transform_points2d,
    warp_image,
)


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def _random_camera(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    f = rng.uniform(400, 900)
    K = np.array([[f, 0, 112 + rng.uniform(-10, 10)], [0, f * rng.uniform(0.99, 1.01), 112 + rng.uniform(-10, 10)],
                  [0, 0, 1]])  # fmt: skip
    centre = np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(0.4, 0.9)])
    points = centre + rng.normal(0, 0.04, size=(50, 3))
    return K, points


@pytest.mark.parametrize("out_size", [224, 160])
def test_projection_of_augmented_3d_equals_augmented_2d(out_size: int) -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(rotation_prob=1.0, translation_std=0.1)
    for _ in range(500):
        K, points = _random_camera(rng)
        params = sample_augment(cfg, rng)
        M = crop_matrix((224, 224), out_size, params)
        uv_aug = transform_points2d(_project(points, K), M)
        K_new = transform_intrinsics(K, M, params.rotation)
        uv_3d = _project(rotate_points(points, params.rotation), K_new)
        assert np.abs(uv_3d - uv_aug).max() < 1e-6  # far inside the 0.5 px requirement
        assert abs(K_new[2, 2] - 1) < 1e-12 and np.allclose(K_new[2, :2], 0)
        # Square pixels stay square, up to FreiHAND's tiny fx != fy.
        assert abs(K_new[0, 0] / K_new[1, 1] - K[0, 0] / K[1, 1]) < 0.03


def test_image_warp_moves_pixels_like_the_points() -> None:
    """A bright dot drawn at a projected point lands where the transformed 2D point says."""
    rng = np.random.default_rng(1)
    cfg = AugmentConfig(rotation_prob=1.0, translation_std=0.05)
    for _ in range(30):
        uv = rng.uniform(60, 164, size=2)
        image = np.zeros((224, 224), np.float32)
        cv2.circle(image, (int(round(uv[0] * 16)), int(round(uv[1] * 16))), 3 * 16, 1.0, -1, cv2.LINE_AA, shift=4)
        params = sample_augment(cfg, rng)
        M = crop_matrix((224, 224), 192, params)
        warped = warp_image(image, M, 192)
        ys, xs = np.nonzero(warped > 0)
        w = warped[ys, xs]
        centroid = np.array([(xs * w).sum(), (ys * w).sum()]) / w.sum()
        expected = transform_points2d(uv[None], M)[0]
        assert np.linalg.norm(centroid - expected) < 0.5


def test_identity_crop_is_identity() -> None:
    M = crop_matrix((224, 224), 224)
    assert np.allclose(M, np.eye(2, 3))
    K = np.array([[500.0, 0, 110], [0, 500, 113], [0, 0, 1]])
    assert np.allclose(transform_intrinsics(K, M, 0.0), K)
    image = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    assert warp_image(image, M, 224) is image
    # Plain resize 224 -> 112 halves the focal length.
    K2 = transform_intrinsics(K, crop_matrix((224, 224), 112), 0.0)
    assert np.isclose(K2[0, 0], 250.0) and np.isclose(K2[1, 1], 250.0)


def test_rotation_sign_matches_camera_z_rotation() -> None:
    """+90 deg maps the image x axis onto the image y axis (x right, y down), as Rz does in 3D."""
    assert np.allclose(rotation_z(math.pi / 2) @ np.array([1.0, 0, 0]), [0, 1, 0])
    M = crop_matrix((224, 224), 224, AugmentParams(rotation=math.pi / 2))
    centre = np.array([111.5, 111.5])
    moved = transform_points2d(np.array([centre + [10.0, 0.0]]), M)[0]
    assert np.allclose(moved, centre + [0.0, 10.0])


def test_global_orient_matches_rotated_vertices(hand_model) -> None:
    """Posing MANO with the augmented orientation gives the augmented root-relative mesh."""
    rng = np.random.default_rng(2)
    batch = 16
    orient = torch.as_tensor(rng.normal(0, 1.2, (batch, 3)))
    pose = torch.as_tensor(rng.normal(0, 0.3, (batch, 45)))
    betas = torch.as_tensor(rng.normal(0, 1, (batch, 10)))
    out = hand_model(orient, pose, betas)
    thetas = rng.uniform(-math.pi, math.pi, batch)
    new_orient = torch.as_tensor(
        np.stack([rotate_global_orient(o.numpy(), t) for o, t in zip(orient, thetas, strict=True)])
    )
    out_new = hand_model(new_orient, pose, betas)
    for b in range(batch):
        verts_rel = (out.vertices[b] - out.keypoints[b, 9]).numpy()
        kp_rel = (out.keypoints[b] - out.keypoints[b, 9]).numpy()
        expected_v = rotate_points(verts_rel, thetas[b])
        expected_k = rotate_points(kp_rel, thetas[b])
        got_v = (out_new.vertices[b] - out_new.keypoints[b, 9]).numpy()
        got_k = (out_new.keypoints[b] - out_new.keypoints[b, 9]).numpy()
        assert np.abs(got_v - expected_v).max() < 1e-9
        assert np.abs(got_k - expected_k).max() < 1e-9


def test_sampled_ranges() -> None:
    rng = np.random.default_rng(3)
    cfg = AugmentConfig()
    draws = [sample_augment(cfg, rng) for _ in range(4000)]
    colors = np.array([d.color for d in draws])
    scales = np.array([d.scale for d in draws])
    rotations = np.array([d.rotation for d in draws])
    assert colors.min() >= 0.6 and colors.max() <= 1.4
    assert colors.min() < 0.62 and colors.max() > 1.38  # the whole range is used
    assert np.all(np.abs(colors.mean(axis=0) - 1.0) < 0.03)
    assert scales.min() >= 0.75 and scales.max() <= 1.25 and abs(np.median(scales) - 1) < 0.03
    assert abs(np.mean(rotations != 0) - 0.4) < 0.04
    assert np.abs(rotations).max() <= math.pi + 1e-9
    assert np.std(rotations[rotations != 0]) > math.radians(60)
    assert all(d.shift == (0.0, 0.0) for d in draws)  # default: no translation jitter


def test_color_scale_and_normalisation() -> None:
    image = np.full((4, 4, 3), 200, np.uint8)
    image[..., 0] = 50  # B
    out = normalize_image(image, (1.4, 1.0, 0.5))  # RGB gains
    assert out.shape == (3, 4, 4) and out.dtype == np.float32
    rgb = out.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    assert np.allclose(rgb[0, 0], [min(200 * 1.4, 255) / 255, 200 / 255, 50 * 0.5 / 255], atol=1e-6)
