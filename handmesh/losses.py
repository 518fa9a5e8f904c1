"""Training losses (DESIGN.md §6). Every term is a mean, never a sum, so weights do not depend on
the batch size."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from handmesh.geometry.procrustes import procrustes_transform
from handmesh.geometry.rotation import axis_angle_to_matrix


@dataclass
class LossWeights:
    """Weights of the loss terms (0 turns a term off)."""

    vertices: float = 10.0  # L1 on root-relative vertices (metres)
    keypoints3d: float = 1000.0  # MSE on root-relative 3D keypoints (metres^2)
    keypoints3d_aligned: float = 0.0  # MSE on 3D keypoints after Procrustes alignment: articulation only
    keypoints2d: float = 10.0  # MSE on keypoints projected by the camera head (normalised coords)
    pose: float = 1.0  # MSE on joint rotation matrices vs the MANO ground truth
    betas: float = 0.01  # MSE on betas vs the MANO ground truth
    betas_prior: float = 0.001  # mean squared betas (keeps the shape plausible)
    camera: float = 10.0  # MSE on (log s, s tx, s ty) vs the ground truth's camera (supervises depth directly)


def camera_features(cam: Tensor) -> Tensor:
    """(s, tx, ty) (B, 3) -> (log s, s tx, s ty): log scale and the root's normalised image position."""
    s = cam[:, :1]
    return torch.cat([s.log(), s * cam[:, 1:]], dim=-1)


def _finite(x: Tensor) -> Tensor:
    return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def aligned_keypoints_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """MSE between keypoints (B, 21, 3) after aligning the prediction to the ground truth by the similarity
    transform of the evaluation (PA-MPJPE's alignment). The transform is fitted to the detached prediction
    and held fixed, so the gradient carries the articulation error only (no SVD backward). Non-finite
    values are zeroed for the fit only (the SVD would raise); the loss itself stays NaN/Inf then, for
    the training guard (handmesh.guards) to see and skip."""
    transform = procrustes_transform(_finite(pred.detach()), _finite(gt))
    return F.mse_loss(transform.apply(pred).to(pred.dtype), gt)


def target_rotmats(global_orient: Tensor, hand_pose: Tensor, hands_mean: Tensor) -> Tensor:
    """Ground-truth absolute joint rotations (B, 16, 3, 3) from FreiHAND's axis-angle annotation
    (global (B, 3), fingers (B, 45) relative to `hands_mean`)."""
    aa = torch.cat([global_orient, hand_pose + hands_mean], dim=-1).reshape(-1, 16, 3)
    return axis_angle_to_matrix(aa)


def hand_losses(
    pred_vertices_rel: Tensor,
    pred_keypoints_rel: Tensor,
    pred_keypoints2d: Tensor,
    pred_rotmats: Tensor,
    pred_betas: Tensor,
    pred_cam: Tensor,
    gt_vertices_rel: Tensor,
    gt_keypoints_rel: Tensor,
    gt_keypoints2d: Tensor,
    gt_rotmats: Tensor,
    gt_betas: Tensor,
    gt_cam: Tensor,
    weights: LossWeights,
) -> dict[str, Tensor]:
    """The terms with a non-zero weight and their weighted sum under "total". Metres for 3D, normalised units
    for 2D. A term weighted 0 is not computed (the Procrustes-aligned term runs an SVD per sample)."""
    term_fns = {
        "vertices": lambda: F.l1_loss(pred_vertices_rel, gt_vertices_rel),
        "keypoints3d": lambda: F.mse_loss(pred_keypoints_rel, gt_keypoints_rel),
        "keypoints3d_aligned": lambda: aligned_keypoints_loss(pred_keypoints_rel, gt_keypoints_rel),
        "keypoints2d": lambda: F.mse_loss(pred_keypoints2d, gt_keypoints2d),
        "pose": lambda: F.mse_loss(pred_rotmats, gt_rotmats),
        "betas": lambda: F.mse_loss(pred_betas, gt_betas),
        "betas_prior": lambda: pred_betas.pow(2).mean(),
        "camera": lambda: F.mse_loss(camera_features(pred_cam), camera_features(gt_cam)),
    }
    terms = {name: fn() for name, fn in term_fns.items() if getattr(weights, name) != 0}
    terms["total"] = sum((getattr(weights, name) * value for name, value in terms.items()), pred_betas.new_zeros(()))
    return terms
