"""The whole network: image -> encoder -> MANO head -> hand model -> camera frame."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from handmesh.geometry.camera import weak_perspective_project, weak_perspective_to_translation
from handmesh.mano.constants import ROOT_KEYPOINT
from handmesh.mano.hand_model import HandModel
from handmesh.model.head import MANOHead


class Prediction(NamedTuple):
    """Network outputs (B = batch). Root = keypoint 9 (middle MCP)."""

    vertices: Tensor  # (B, 778, 3) camera frame, metres
    keypoints: Tensor  # (B, 21, 3) camera frame, metres, FreiHAND order
    vertices_rel: Tensor  # (B, 778, 3) root-relative
    keypoints_rel: Tensor  # (B, 21, 3) root-relative
    keypoints2d: Tensor  # (B, 21, 2) normalised input coordinates in [-1, 1]
    rotmats: Tensor  # (B, 16, 3, 3) absolute MANO joint rotations
    betas: Tensor  # (B, 10)
    cam: Tensor  # (B, 3) weak perspective (s, tx, ty)
    transl: Tensor  # (B, 3) camera-frame position of the root keypoint


class HandRegressor(nn.Module):
    """Encoder + head + MANO; `forward(images, K)` gives a `Prediction`.

    Under mixed precision only the encoder runs in bf16/fp16: the head, the hand model and the camera
    run in float32 (autocast off), so the 6D rotations, blend shapes and skinning keep full precision.

    Args:
        encoder: backbone returning pooled features (B, C).
        head: the MANO/camera regressor.
        hand_model: MANO layer (its buffers are not saved in checkpoints: MANO is licensed).
        input_size: S, the square input size in pixels (the camera head's frame).
    """

    def __init__(self, encoder: nn.Module, head: MANOHead, hand_model: HandModel, input_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.hand_model = hand_model
        self.input_size = input_size

    def forward(self, images: Tensor, K: Tensor) -> Prediction:
        """images (B, 3, S, S) normalised; K (B, 3, 3) intrinsics of the input."""
        features = self.encoder(images)  # (B, C), bf16/fp16 under autocast
        with torch.autocast(images.device.type, enabled=False):
            low = features.dtype in (torch.float16, torch.bfloat16)
            return self._geometry(features.float() if low else features, K)

    def _geometry(self, features: Tensor, K: Tensor) -> Prediction:
        params = self.head(features)
        out = self.hand_model(params.rotmats[:, 0], params.rotmats[:, 1:], params.betas)
        root = out.keypoints[:, ROOT_KEYPOINT : ROOT_KEYPOINT + 1]  # (B, 1, 3)
        keypoints_rel, vertices_rel = out.keypoints - root, out.vertices - root
        keypoints2d = weak_perspective_project(keypoints_rel, params.cam)
        transl = weak_perspective_to_translation(params.cam, K.to(params.cam.dtype), self.input_size)
        return Prediction(
            vertices=vertices_rel + transl[:, None],
            keypoints=keypoints_rel + transl[:, None],
            vertices_rel=vertices_rel,
            keypoints_rel=keypoints_rel,
            keypoints2d=keypoints2d,
            rotmats=params.rotmats,
            betas=params.betas,
            cam=params.cam,
            transl=transl,
        )
