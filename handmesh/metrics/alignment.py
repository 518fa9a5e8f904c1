"""Procrustes alignment with scale for the evaluator (DESIGN.md §3), float64 numpy and compiled kernels.

The formula is the official script's, the same as `handmesh.geometry.procrustes` (the differentiable torch
version that the losses and pictures use, tested equal to this one): per sample, centre both sets, divide by
their Frobenius norms (+ 1e-8), R = U V^T from the SVD of A^T B (reflections allowed), s = trace(S), and map the
prediction by x -> ((x - mean_pred) / norm_pred) R^T s norm_gt + mean_gt.

Here the per-sample sums (means, norms, the 3 x 3 cross-covariance) are one compiled pass over each sample,
and the map is applied as one affine transform per sample, so the 3,960 x 778 vertices are read twice instead of
being copied through a dozen array passes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = 1e-8  # added to the Frobenius norms, as the official script does


def procrustes_aligned(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The prediction aligned to the ground truth: (B, N, 3) float64 x 2 -> (B, N, 3) float64."""
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"procrustes: expected two (B, N, 3) arrays, got {pred.shape} and {gt.shape}")
    means, norms, cov = _moments(pred, gt)  # (B, 2, 3) gt/pred, (B, 2), (B, 3, 3) = A^T B unnormalised
    norms = norms + EPS
    u, s, vh = np.linalg.svd(cov / (norms[:, 0] * norms[:, 1])[:, None, None])
    scale = s.sum(-1) * norms[:, 0] / norms[:, 1]  # (B,)
    linear = np.swapaxes(u @ vh, 1, 2) * scale[:, None, None]  # R^T s nA / nB: (B, 3, 3)
    offset = means[:, 0] - np.einsum("bi,bij->bj", means[:, 1], linear)  # (B, 3)
    return _affine(pred, linear, offset)


@numba.njit(cache=True, nogil=True)
def _moments(pred, gt):  # pragma: no cover - compiled
    """Per sample: the means of gt and pred (B, 2, 3), the Frobenius norms of the centred sets (B, 2), and the
    cross-covariance sum over points of (gt - mean_gt)^T (pred - mean_pred) (B, 3, 3)."""
    b, n = pred.shape[0], pred.shape[1]
    means = np.zeros((b, 2, 3))
    norms = np.zeros((b, 2))
    cov = np.zeros((b, 3, 3))
    for s in range(b):
        for i in range(n):
            for k in range(3):
                means[s, 0, k] += gt[s, i, k]
                means[s, 1, k] += pred[s, i, k]
        for k in range(3):
            means[s, 0, k] /= n
            means[s, 1, k] /= n
        sq_gt = 0.0
        sq_pred = 0.0
        for i in range(n):
            a = (gt[s, i, 0] - means[s, 0, 0], gt[s, i, 1] - means[s, 0, 1], gt[s, i, 2] - means[s, 0, 2])
            b = (pred[s, i, 0] - means[s, 1, 0], pred[s, i, 1] - means[s, 1, 1], pred[s, i, 2] - means[s, 1, 2])
            for j in range(3):
                sq_gt += a[j] * a[j]
                sq_pred += b[j] * b[j]
                for k in range(3):
                    cov[s, j, k] += a[j] * b[k]
        norms[s, 0] = math.sqrt(sq_gt)
        norms[s, 1] = math.sqrt(sq_pred)
    return means, norms, cov


@numba.njit(cache=True, nogil=True)
def _affine(points, linear, offset):  # pragma: no cover - compiled
    """points[s] @ linear[s] + offset[s] per sample: (B, N, 3), (B, 3, 3), (B, 3) -> (B, N, 3)."""
    out = np.empty_like(points)
    for s in range(points.shape[0]):
        for i in range(points.shape[1]):
            x0, x1, x2 = points[s, i, 0], points[s, i, 1], points[s, i, 2]
            for k in range(3):
                out[s, i, k] = (x0 * linear[s, 0, k] + x1 * linear[s, 1, k]) + x2 * linear[s, 2, k] + offset[s, k]
    return out
