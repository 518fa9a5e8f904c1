"""Procrustes alignment as the official FreiHAND script does it (scale, rotation or reflection, translation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmesh.geometry.procrustes import procrustes_align, procrustes_transform
from handmesh.metrics.alignment import procrustes_aligned


def _official_align(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """DESIGN.md §3, one sample, with numpy/scipy: the reference the batched version must equal."""
    mu_g, mu_p = gt.mean(0), pred.mean(0)
    a, b = gt - mu_g, pred - mu_p
    na, nb = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    r, s = orthogonal_procrustes(a / na, b / nb)
    return (b / nb) @ r.T * s * na + mu_g


def test_recovers_a_known_similarity_transform_with_reflection() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 778, 3)) * 0.05 + np.array([0.0, 0.0, 0.6])
    rot = Rotation.random(4, random_state=1).as_matrix()
    rot[1:3] = rot[1:3] @ np.diag([1.0, 1.0, -1.0])  # two samples are mirrored (det -1)
    scale = np.array([1.0, 1.7, 2.5, 3.3])
    pred = scale[:, None, None] * gt @ rot.transpose(0, 2, 1) + rng.normal(size=(4, 1, 3))
    aligned = procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt))
    assert aligned.dtype == torch.float64
    # The official 1e-8 added to the norms shrinks the centred result by exactly (|b| / (|b| + 1e-8))^2 (b: the
    # centred prediction): recovered to 1e-12 with that factor, and to 2e-9 m without it.
    centred_gt = gt - gt.mean(1, keepdims=True)
    nb = np.linalg.norm(pred - pred.mean(1, keepdims=True), axis=(1, 2))
    shrink = (nb / (nb + 1e-8))[:, None, None] ** 2
    np.testing.assert_allclose(aligned.numpy(), centred_gt * shrink + gt.mean(1, keepdims=True), atol=1e-12, rtol=0)
    np.testing.assert_allclose(aligned.numpy(), gt, atol=2e-9, rtol=0)
    tf = procrustes_transform(torch.from_numpy(pred), torch.from_numpy(gt))
    np.testing.assert_allclose(tf.rotation.numpy(), rot.transpose(0, 2, 1), atol=1e-9)  # R maps pred back onto gt
    det = torch.linalg.det(tf.rotation)
    np.testing.assert_allclose(det.numpy(), [1.0, -1.0, -1.0, 1.0], atol=1e-9)  # reflections kept, not corrected
    eye = tf.rotation @ tf.rotation.transpose(1, 2)
    np.testing.assert_allclose(eye.numpy(), np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-12)


def test_matches_the_official_per_sample_alignment_on_noisy_data() -> None:
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(6, 21, 3)) * 0.05
    pred = gt @ Rotation.random(6, random_state=3).as_matrix() * 0.8 + rng.normal(size=(6, 21, 3)) * 0.01 + 0.3
    batched = procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt)).numpy()
    for i in range(6):
        np.testing.assert_allclose(batched[i], _official_align(gt[i], pred[i]), atol=1e-14, rtol=0)
    single = procrustes_align(torch.from_numpy(pred[0]), torch.from_numpy(gt[0]))
    assert single.shape == (21, 3)
    np.testing.assert_allclose(single.numpy(), batched[0], atol=1e-15, rtol=0)


def test_transform_applies_to_other_points_of_the_prediction() -> None:
    """The vertex transform estimated on keypoints maps any point of the prediction's frame consistently."""
    rng = np.random.default_rng(4)
    gt = torch.from_numpy(rng.normal(size=(2, 21, 3)))
    pred = torch.from_numpy(rng.normal(size=(2, 21, 3)))
    tf = procrustes_transform(pred, gt)
    np.testing.assert_allclose(tf.apply(pred).numpy(), procrustes_align(pred, gt).numpy(), atol=1e-15)
    assert tf.apply(pred[:, :5].float()).shape == (2, 5, 3)


def test_degenerate_prediction_collapses_to_the_ground_truth_centroid() -> None:
    gt = torch.rand(1, 10, 3, dtype=torch.float64)
    aligned = procrustes_align(torch.zeros(1, 10, 3, dtype=torch.float64), gt)
    np.testing.assert_allclose(aligned.numpy(), np.broadcast_to(gt.mean(1).numpy(), (1, 10, 3)), atol=1e-12)


def test_the_evaluator_alignment_equals_the_torch_one_and_the_official() -> None:
    """`handmesh.metrics.alignment` (numpy + compiled sums, used by the evaluator) against the differentiable torch
    version and the per-sample official one: mirrored, scaled, noisy, far from the origin, and degenerate."""
    rng = np.random.default_rng(7)
    gt = rng.normal(size=(9, 778, 3)) * 0.04 + np.array([0.02, -0.01, 0.7])
    rot = Rotation.random(9, random_state=8).as_matrix() * np.array([1.0, 1.0, -1.0])[:, None]  # reflections
    pred = gt @ rot * rng.uniform(0.7, 1.3, (9, 1, 1)) + rng.normal(size=gt.shape) * 0.005 + 0.3
    pred[4] = 0.0  # degenerate: collapses to the ground-truth centroid
    ours = procrustes_aligned(pred, gt)
    np.testing.assert_allclose(ours, procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt)), atol=1e-14, rtol=0)
    for i in range(9):
        np.testing.assert_allclose(ours[i], _official_align(gt[i], pred[i]), atol=1e-14, rtol=0)
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        procrustes_aligned(pred[:, :20], gt)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        procrustes_transform(torch.zeros(2, 21, 3), torch.zeros(2, 20, 3))
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        procrustes_transform(torch.zeros(2, 21, 2), torch.zeros(2, 21, 2))
