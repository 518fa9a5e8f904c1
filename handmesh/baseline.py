"""The mean-hand baseline: predict the training set's mean pose, shape and position for every image.

A model that learned nothing from the image scores about this; the demo prints both.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handmesh.geometry.rotation import axis_angle_to_matrix
from handmesh.mano.freihand_params import root_position
from handmesh.mano.hand_model import HandModel


def mean_rotation(rotmats: Tensor) -> Tensor:
    """Chordal L2 mean of rotations (N, 3, 3) -> (3, 3): the nearest rotation to their average."""
    u, _, vh = torch.linalg.svd(rotmats.mean(dim=0))
    d = torch.sign(torch.linalg.det(u @ vh))
    return u @ torch.diag(torch.stack([torch.ones_like(d), torch.ones_like(d), d])) @ vh


def mean_hand(train_mano: Tensor, train_K: Tensor, hand_model: HandModel, count: int) -> tuple[Tensor, Tensor]:
    """Keypoints (count, 21, 3) and vertices (count, 778, 3) of the training set's mean hand.

    train_mano: (N, 61) FreiHAND annotations; train_K: (N, 3, 3). The mean hand has the mean
    finger pose and betas, the chordal-mean global rotation, and its keypoint 9 at the mean
    camera-frame position of keypoint 9 in the training set.
    """
    dtype = hand_model.v_template.dtype
    p = train_mano.reshape(-1, 61).to(dtype)
    rot = mean_rotation(axis_angle_to_matrix(p[:, :3]))[None]  # (1, 3, 3)
    pose, betas = p[:, 3:48].mean(0, keepdim=True), p[:, 48:58].mean(0, keepdim=True)
    out = hand_model(rot, pose, betas)
    target = root_position(p[:, 58:60], p[:, 60], train_K.to(dtype)).mean(0)  # (3,)
    shift = target - out.keypoints[0, 9]
    keypoints = (out.keypoints[0] + shift).expand(count, -1, -1)
    vertices = (out.vertices[0] + shift).expand(count, -1, -1)
    return keypoints, vertices
