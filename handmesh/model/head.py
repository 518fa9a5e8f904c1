"""MANO parameter regressor with a weak-perspective camera, by iterative error feedback (HMR).

Starting from mean parameters, each iteration reads [features, current parameters] and predicts
an update. Rotations are 6D (Zhou et al.): 16 joints (global + 15 fingers) x 6 numbers. The camera
scale is regressed as log s, so s > 0 always (a scale near or below 0 would put the hand at an
infinite or negative depth, Tz = 2 f / (S s)).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from handmesh.geometry.rotation import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix
from handmesh.mano.constants import NUM_BETAS, NUM_JOINTS


class HeadOutput(NamedTuple):
    """Regressed parameters (B = batch)."""

    rotmats: Tensor  # (B, 16, 3, 3) absolute joint rotations: global + 15 fingers
    betas: Tensor  # (B, 10)
    cam: Tensor  # (B, 3) weak perspective (s, tx, ty)


class MANOHead(nn.Module):
    """Iterative regressor of MANO pose (6D), shape and weak-perspective camera.

    Args:
        in_features: encoder feature width.
        hands_mean: (45,) MANO mean finger pose (axis-angle); the finger rotations start there.
        init_cam_scale: starting s of the camera, ~ 2 f / (S * depth) for typical crops.
        hidden: width of the MLP.
        iterations: number of feedback iterations.
        dropout: dropout in the MLP.
    """

    def __init__(
        self,
        in_features: int,
        hands_mean: Tensor,
        init_cam_scale: float = 7.0,
        hidden: int = 1024,
        iterations: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.iterations = iterations
        root = torch.zeros(1, 3)
        init_rot = axis_angle_to_matrix(torch.cat([root, hands_mean.float().reshape(15, 3)]))  # (16, 3, 3)
        init_cam = torch.tensor([math.log(init_cam_scale), 0.0, 0.0])
        init = torch.cat([matrix_to_rot6d(init_rot).reshape(-1), torch.zeros(NUM_BETAS), init_cam])
        self.register_buffer("init_params", init)  # (16*6 + 10 + 3,): 6D rotations, betas, (log s, tx, ty)
        n_params = init.numel()
        self.mlp = nn.Sequential(
            nn.Linear(in_features + n_params, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.delta = nn.Linear(hidden, n_params)
        nn.init.xavier_uniform_(self.delta.weight, gain=0.01)
        nn.init.zeros_(self.delta.bias)

    def forward(self, features: Tensor) -> HeadOutput:
        """features (B, C) -> parameters after the last iteration."""
        params = self.init_params.expand(features.shape[0], -1)
        for _ in range(self.iterations):
            params = params + self.delta(self.mlp(torch.cat([features, params], dim=-1)))
        n_rot = NUM_JOINTS * 6
        rotmats = rot6d_to_matrix(params[:, :n_rot].reshape(-1, NUM_JOINTS, 6))
        betas = params[:, n_rot : n_rot + NUM_BETAS]
        log_s, txy = params[:, n_rot + NUM_BETAS : n_rot + NUM_BETAS + 1], params[:, n_rot + NUM_BETAS + 1 :]
        cam = torch.cat([log_s.exp(), txy], dim=-1)  # (B, 3): s, tx, ty
        return HeadOutput(rotmats=rotmats, betas=betas, cam=cam)
