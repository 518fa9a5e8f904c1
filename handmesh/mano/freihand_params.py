"""FreiHAND's 61-number MANO annotation <-> hands in the camera frame.

The 61 numbers are NOT pose/shape/translation (DESIGN.md §2):
`[0:48]` axis-angle pose (3 global + 45 fingers, relative to `hands_mean`), `[48:58]` betas,
`[58:60]` uv_root = pixel of keypoint 9 (middle MCP), `[60]` scale = focal / depth of keypoint 9,
with focal f = (K00 + K11) / 2. The translation is derived: pose MANO with zero translation, then
shift mesh and keypoints so that keypoint 9 lands at `[(u - cx) / s, (v - cy) / s, f / s]`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from handmesh.geometry.camera import project
from handmesh.mano.constants import ROOT_KEYPOINT
from handmesh.mano.hand_model import HandModel


class FreiHANDHand(NamedTuple):
    """A FreiHAND annotation decoded (B = batch)."""

    vertices: Tensor  # (B, 778, 3) metres, camera frame
    keypoints: Tensor  # (B, 21, 3) metres, camera frame, FreiHAND order
    global_orient: Tensor  # (B, 3) axis-angle
    hand_pose: Tensor  # (B, 45) axis-angle relative to hands_mean
    betas: Tensor  # (B, 10)
    transl: Tensor  # (B, 3) added to the zero-translation MANO output


def _focal(K: Tensor) -> Tensor:
    return 0.5 * (K[:, 0, 0] + K[:, 1, 1])  # (B,)


def root_position(uv_root: Tensor, scale: Tensor, K: Tensor) -> Tensor:
    """Camera-frame position of keypoint 9 from uv_root (B, 2), scale (B,) and K (B, 3, 3)."""
    f = _focal(K)
    u = (uv_root[:, 0] - K[:, 0, 2]) / scale
    v = (uv_root[:, 1] - K[:, 1, 2]) / scale
    return torch.stack([u, v, f / scale], dim=-1)


def _hand_model_mean_convention(hand_model: HandModel) -> None:
    if hand_model.flat_hand_mean:
        raise ValueError("FreiHAND poses are relative to hands_mean: use HandModel(flat_hand_mean=False)")


def from_freihand(mano61: Tensor, K: Tensor, hand_model: HandModel) -> FreiHANDHand:
    """Decode FreiHAND annotations. mano61: (B, 61) or (B, 1, 61); K: (B, 3, 3)."""
    _hand_model_mean_convention(hand_model)
    dtype = hand_model.v_template.dtype
    p = mano61.reshape(-1, 61).to(dtype)
    K = K.reshape(-1, 3, 3).to(dtype)
    global_orient, hand_pose, betas = p[:, :3], p[:, 3:48], p[:, 48:58]
    out = hand_model(global_orient, hand_pose, betas)
    transl = root_position(p[:, 58:60], p[:, 60], K) - out.keypoints[:, ROOT_KEYPOINT]
    t = transl[:, None]
    return FreiHANDHand(out.vertices + t, out.keypoints + t, global_orient, hand_pose, betas, transl)


def to_freihand(
    global_orient: Tensor, hand_pose: Tensor, betas: Tensor, transl: Tensor, K: Tensor, hand_model: HandModel
) -> Tensor:
    """Encode a hand as FreiHAND's 61 numbers (B, 61).

    global_orient (B, 3) and hand_pose (B, 45) are axis-angle, hand_pose relative to hands_mean;
    transl (B, 3) is added to the zero-translation MANO output; K (B, 3, 3).
    """
    _hand_model_mean_convention(hand_model)
    dtype = hand_model.v_template.dtype
    global_orient, hand_pose, betas, transl = (x.to(dtype) for x in (global_orient, hand_pose, betas, transl))
    K = K.reshape(-1, 3, 3).to(dtype)
    root = hand_model(global_orient, hand_pose, betas, transl).keypoints[:, ROOT_KEYPOINT]  # (B, 3)
    uv = project(root[:, None], K)[:, 0]  # (B, 2)
    scale = _focal(K) / root[:, 2]
    return torch.cat([global_orient, hand_pose.reshape(-1, 45), betas, uv, scale[:, None]], dim=-1)
