"""The MANO hand model as a torch module: parameters -> 778 vertices and FreiHAND's 21 keypoints.

Skinning is smplx's `lbs`; what smplx does not do the FreiHAND way is done here:
- keypoints are MANO's `J_regressor` applied to the POSED mesh (not the kinematic joints smplx
  returns, which differ by millimetres), plus tip vertices 744/320/443/555/672, in OpenPose order;
- the `hands_mean` convention is an explicit argument (`flat_hand_mean`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from smplx.lbs import lbs
from torch import Tensor, nn

from handmesh.geometry.rotation import axis_angle_to_matrix
from handmesh.mano.constants import (
    FREIHAND_KEYPOINT_ORDER,
    FREIHAND_TIP_VERTEX_IDS,
    MANO_PARENTS,
    NUM_JOINTS,
)
from handmesh.mano.file import DEFAULT_MANO_PATH, load_mano_file


class HandOutput(NamedTuple):
    """What the hand model returns (B = batch)."""

    vertices: Tensor  # (B, 778, 3)
    keypoints: Tensor  # (B, 21, 3) FreiHAND / OpenPose order, from the posed mesh
    joints: Tensor  # (B, 16, 3) kinematic-chain joints, MANO order (what smplx returns)


class HandModel(nn.Module):
    """MANO layer.

    Args:
        model: path of a MANO v1.2 pickle (official or stand-in) or an already loaded dict
            (`load_mano_file`).
        side: "right" or "left"; the file must be that hand. None accepts the file's side.
        flat_hand_mean: how an AXIS-ANGLE finger pose is read. False (FreiHAND's convention,
            smplx `flat_hand_mean=False`): the 45 numbers are relative to MANO's `hands_mean`, so
            zeros give the relaxed mean hand. True: they are absolute, zeros give a flat hand.
            Rotation-matrix inputs are always absolute joint rotations.
        dtype: floating dtype of the buffers (float64 for ground-truth generation).
        fix_left_shapedirs: the official MANO_LEFT.pkl has the x row of `shapedirs` not mirrored
            (smplx issue #48); negate it for a non-stand-in left file. The stand-in is correct.
    """

    def __init__(
        self,
        model: str | Path | dict[str, Any] = DEFAULT_MANO_PATH,
        side: str | None = "right",
        flat_hand_mean: bool = False,
        dtype: torch.dtype = torch.float32,
        fix_left_shapedirs: bool = True,
    ) -> None:
        super().__init__()
        data = model if isinstance(model, dict) else load_mano_file(model, side=side)
        self.side: str = data["side"]
        self.is_standin: bool = bool(data.get("is_standin", False))
        self.flat_hand_mean = flat_hand_mean

        def buf(name: str, value: np.ndarray, dt: torch.dtype = dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=dt), persistent=False)

        buf("v_template", data["v_template"])  # (778, 3)
        shapedirs = np.array(data["shapedirs"], dtype=np.float64)  # (778, 3, 10)
        if self.side == "left" and not self.is_standin and fix_left_shapedirs:
            shapedirs[:, 0, :] *= -1
        buf("shapedirs", shapedirs)
        # (778, 3, 135) -> (135, 778*3): the layout smplx's lbs expects.
        buf("posedirs", np.reshape(data["posedirs"], (-1, data["posedirs"].shape[-1])).T)
        buf("J_regressor", data["J_regressor"])  # (16, 778)
        buf("lbs_weights", data["weights"])  # (778, 16)
        buf("hands_mean", data["hands_mean"])  # (45,)
        buf("hands_components", data["hands_components"])  # (45, 45)
        buf("faces", data["f"], torch.long)  # (F, 3)
        buf("parents", np.asarray(MANO_PARENTS), torch.long)
        buf("tip_ids", np.asarray(FREIHAND_TIP_VERTEX_IDS), torch.long)
        buf("keypoint_order", np.asarray(FREIHAND_KEYPOINT_ORDER), torch.long)

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    def pose_matrices(self, global_orient: Tensor, hand_pose: Tensor) -> Tensor:
        """Absolute joint rotation matrices (B, 16, 3, 3) from axis-angle or matrix inputs.

        global_orient: (B, 3) axis-angle or (B, 3, 3); hand_pose: (B, 45) / (B, 15, 3) axis-angle
        (relative to hands_mean unless `flat_hand_mean`) or (B, 15, 3, 3) absolute rotations.
        """
        batch = global_orient.shape[0]
        if global_orient.ndim >= 3 and global_orient.shape[-2:] == (3, 3):  # (B, 3, 3) or (B, 1, 3, 3)
            root = global_orient.reshape(batch, 1, 3, 3)
        else:
            root = axis_angle_to_matrix(global_orient.reshape(batch, 1, 3))
        if hand_pose.ndim == 4:  # (B, 15, 3, 3)
            fingers = hand_pose.reshape(batch, NUM_JOINTS - 1, 3, 3)
        else:
            aa = hand_pose.reshape(batch, -1)  # (B, 45)
            if not self.flat_hand_mean:
                aa = aa + self.hands_mean
            fingers = axis_angle_to_matrix(aa.reshape(batch, NUM_JOINTS - 1, 3))
        return torch.cat([root, fingers], dim=1).to(self.v_template.dtype)

    def keypoints_from_vertices(self, vertices: Tensor) -> Tensor:
        """FreiHAND's 21 keypoints of posed vertices (B, 778, 3) -> (B, 21, 3)."""
        joints16 = torch.einsum("jv,bvc->bjc", self.J_regressor, vertices)
        tips = vertices[:, self.tip_ids]  # (B, 5, 3)
        return torch.cat([joints16, tips], dim=1)[:, self.keypoint_order]

    def forward(
        self,
        global_orient: Tensor,
        hand_pose: Tensor,
        betas: Tensor | None = None,
        transl: Tensor | None = None,
    ) -> HandOutput:
        """Pose and shape the hand; `transl` (B, 3) is added to vertices, keypoints and joints."""
        rotmats = self.pose_matrices(global_orient, hand_pose)  # (B, 16, 3, 3)
        batch = rotmats.shape[0]
        if betas is None:
            betas = rotmats.new_zeros(batch, self.shapedirs.shape[-1])
        vertices, joints = lbs(
            betas.to(rotmats.dtype),
            rotmats,
            self.v_template,
            self.shapedirs,
            self.posedirs,
            self.J_regressor,
            self.parents,
            self.lbs_weights,
            pose2rot=False,
        )
        keypoints = self.keypoints_from_vertices(vertices)
        if transl is not None:
            t = transl.to(vertices.dtype)[:, None]
            vertices, keypoints, joints = vertices + t, keypoints + t, joints + t
        return HandOutput(vertices=vertices, keypoints=keypoints, joints=joints)
