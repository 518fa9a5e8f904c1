"""Batched prediction over a DataLoader, outside the Trainer (for reports, predict and notebooks).

Left hands: the network is trained on right hands only. `predict_left` mirrors the image (and K),
predicts a right hand and mirrors the prediction back into a LEFT hand in the original camera; draw
it with `faces_for_side(faces, "left")` (reversed winding). See `handmesh.mirror`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from rich.progress import track
from torch import nn

from handmesh.mirror import mirror_images, mirror_intrinsics, mirror_points, mirror_rotations, reverse_winding
from handmesh.model.hand_regressor import HandRegressor, Prediction

SIDES = ("right", "left")


def _check_side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    return side


def mirror_prediction(pred: Prediction) -> Prediction:
    """A prediction mirrored across the camera's y-z plane (right hand <-> left hand).

    3D outputs get x -> -x, rotations M R M (the left MANO model's joint rotations), the weak-perspective
    camera (s, tx, ty) -> (s, -tx, ty) and the normalised 2D keypoints x -> -x (the network's normalised
    frame is symmetric about the input centre). Betas are unchanged.
    """
    flip2d = pred.keypoints2d.new_tensor([-1.0, 1.0])
    return Prediction(
        vertices=mirror_points(pred.vertices),
        keypoints=mirror_points(pred.keypoints),
        vertices_rel=mirror_points(pred.vertices_rel),
        keypoints_rel=mirror_points(pred.keypoints_rel),
        keypoints2d=pred.keypoints2d * flip2d,
        rotmats=mirror_rotations(pred.rotmats),
        betas=pred.betas,
        cam=pred.cam * pred.cam.new_tensor([1.0, -1.0, 1.0]),
        transl=mirror_points(pred.transl),
    )


def predict_left(net: HandRegressor | nn.Module, images: torch.Tensor, K: torch.Tensor) -> Prediction:
    """LEFT-hand prediction for images (B, 3, S, S) of left hands with intrinsics K (B, 3, 3).

    The images are mirrored (and K with them), the right-hand network predicts, and the result is
    mirrored back: vertices and keypoints are a left hand in the original camera frame.
    """
    width = images.shape[-1]
    return mirror_prediction(net(mirror_images(images), mirror_intrinsics(K, width)))


def predict(net: HandRegressor | nn.Module, images: torch.Tensor, K: torch.Tensor, side: str = "right") -> Prediction:
    """`net(images, K)` for right hands, `predict_left` for left hands."""
    return net(images, K) if _check_side(side) == "right" else predict_left(net, images, K)


def faces_for_side(faces: torch.Tensor | np.ndarray, side: str) -> torch.Tensor | np.ndarray:
    """The right-hand model's faces (F, 3) for a mesh of `side` (left: reversed winding, outward normals)."""
    return faces if _check_side(side) == "right" else reverse_winding(faces)


def prediction_outputs(pred: Prediction, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """What prediction returns per sample: `index`, camera-frame `keypoints`/`vertices`, `cam`, `betas`, `rotmats`."""
    return {
        "index": index,
        "keypoints": pred.keypoints,
        "vertices": pred.vertices,
        "cam": pred.cam,
        "betas": pred.betas,
        "rotmats": pred.rotmats,
    }


@torch.inference_mode()
def predict_arrays(
    net: HandRegressor | nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    device: str | torch.device = "cpu",
    side: str = "right",
) -> dict[str, np.ndarray]:
    """Run `net(image, K)` over batches; arrays sorted by the batches' `index`.

    Returns keys `index` (N,), `keypoints` (N, 21, 3) and `vertices` (N, 778, 3) in the camera
    frame (metres), `cam` (N, 3), `betas` (N, 10), `rotmats` (N, 16, 3, 3). With `side="left"` the
    images are left hands and the outputs a left hand (see `predict_left`; faces: `faces_for_side`).
    """
    _check_side(side)
    net = net.to(device).eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in track(batches, description="predicting", transient=True):
        pred = predict(net, batch["image"].to(device), batch["K"].to(device), side)
        for key, value in prediction_outputs(pred, batch["index"]).items():
            parts.setdefault(key, []).append(value.detach().cpu().numpy())
    if not parts:
        raise ValueError("no batches to predict on")
    out = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(out["index"], kind="stable")
    return {k: v[order] for k, v in out.items()}
