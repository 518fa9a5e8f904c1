"""Batched Procrustes alignment with scale, exactly as the official FreiHAND evaluation (DESIGN.md §3).

Per sample, with G the ground truth and P the prediction (both N x 3):
A = (G - mean(G)) / nA and B = (P - mean(P)) / nB, where nA, nB are the Frobenius norms of the centred
sets plus 1e-8; the SVD A^T B = U S V^T gives R = U V^T and s = trace(S), with NO determinant correction
(reflections are allowed, as in `scipy.linalg.orthogonal_procrustes`); the aligned prediction is
(B R^T) * s * nA + mean(G).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

EPS = 1e-8  # added to the Frobenius norms, as the official script does


class SimilarityTransform(NamedTuple):
    """Per-sample map of the prediction onto the ground truth: x -> ((x - mu_pred) / n_pred) R^T s n_gt + mu_gt."""

    rotation: Tensor  # (B, 3, 3) orthogonal, det may be -1
    scale: Tensor  # (B,) trace of S
    norm_gt: Tensor  # (B,) nA
    norm_pred: Tensor  # (B,) nB
    mean_gt: Tensor  # (B, 3)
    mean_pred: Tensor  # (B, 3)

    def apply(self, points: Tensor) -> Tensor:
        """Apply the transform to points (B, M, 3) of the prediction's frame (e.g. its vertices).

        Folded into one affine map x M + c per sample (one pass over the points): M = R^T s nA / nB and
        c = mu_gt - mu_pred M. This agrees with the official step-by-step order to rounding (~1e-16 m).
        """
        scale = self.scale * self.norm_gt / self.norm_pred  # (B,)
        linear = self.rotation.transpose(1, 2) * scale[:, None, None]  # (B, 3, 3)
        offset = self.mean_gt[:, None] - self.mean_pred[:, None] @ linear  # (B, 1, 3)
        return torch.baddbmm(offset, points.to(linear.dtype), linear)


def procrustes_transform(pred: Tensor, gt: Tensor) -> SimilarityTransform:
    """Similarity transform (scale, rotation or reflection, translation) that best maps `pred` onto `gt`.

    pred, gt: (B, N, 3) or (N, 3). Computed in float64 (or the inputs' dtype if it is wider).
    """
    pred, gt = _batched(pred), _batched(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"procrustes: shapes differ, pred {tuple(pred.shape)} vs gt {tuple(gt.shape)}")
    dtype = torch.promote_types(torch.promote_types(pred.dtype, gt.dtype), torch.float64)
    pred, gt = pred.to(dtype), gt.to(dtype)
    mean_gt, mean_pred = gt.mean(1), pred.mean(1)
    a, b = gt - mean_gt[:, None], pred - mean_pred[:, None]
    norm_gt = torch.linalg.vector_norm(a, dim=(1, 2)) + EPS
    norm_pred = torch.linalg.vector_norm(b, dim=(1, 2)) + EPS
    # A^T B of the normalised sets, normalising the 3 x 3 product instead of both point sets
    cov = (a.transpose(1, 2) @ b) / (norm_gt * norm_pred)[:, None, None]  # (B, 3, 3)
    u, s, vh = torch.linalg.svd(cov)
    return SimilarityTransform(u @ vh, s.sum(-1), norm_gt, norm_pred, mean_gt, mean_pred)


def procrustes_align(pred: Tensor, gt: Tensor) -> Tensor:
    """Prediction (B, N, 3) aligned to the ground truth (B, N, 3) as the official FreiHAND script does.

    Returns float64 (B, N, 3) (or (N, 3) for unbatched inputs).
    """
    unbatched = pred.dim() == 2
    out = procrustes_transform(pred, gt).apply(_batched(pred))
    return out[0] if unbatched else out


def _batched(x: Tensor) -> Tensor:
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[-1] != 3:
        raise ValueError(f"procrustes: expected points of shape (B, N, 3) or (N, 3), got {tuple(x.shape)}")
    return x
