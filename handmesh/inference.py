"""Batched prediction over a DataLoader, outside the Trainer (for reports, predict and notebooks)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from rich.progress import track
from torch import nn

from handmesh.model.hand_regressor import HandRegressor


@torch.inference_mode()
def predict_arrays(
    net: HandRegressor | nn.Module, batches: Iterable[dict[str, torch.Tensor]], device: str | torch.device = "cpu"
) -> dict[str, np.ndarray]:
    """Run `net(image, K)` over batches; arrays sorted by the batches' `index`.

    Returns keys `index` (N,), `keypoints` (N, 21, 3) and `vertices` (N, 778, 3) in the camera
    frame (metres), `cam` (N, 3), `betas` (N, 10), `rotmats` (N, 16, 3, 3).
    """
    net = net.to(device).eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in track(batches, description="predicting", transient=True):
        pred = net(batch["image"].to(device), batch["K"].to(device))
        values = {
            "index": batch["index"],
            "keypoints": pred.keypoints,
            "vertices": pred.vertices,
            "cam": pred.cam,
            "betas": pred.betas,
            "rotmats": pred.rotmats,
        }
        for key, value in values.items():
            parts.setdefault(key, []).append(value.detach().cpu().numpy())
    if not parts:
        raise ValueError("no batches to predict on")
    out = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(out["index"], kind="stable")
    return {k: v[order] for k, v in out.items()}
