"""`FreiHANDMetric`: the official FreiHAND numbers as a torchmetrics `Metric`, correct under DDP.

Predictions and ground truth are accumulated per batch together with each sample's dataset index. At `compute()`
torchmetrics gathers every process's states; samples are then de-duplicated by index (a `DistributedSampler`
pads the last batches with repeated samples so that every process gets the same count) and ordered by index, so
every sample counts exactly once whatever the number of processes.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from handmesh.metrics.freihand import ALL_KEYS, NUM_KEYPOINTS, NUM_VERTICES, freihand_scores


class FreiHANDMetric(Metric):
    """All keys of `freihand_scores` (12 official numbers + paper names) over the samples seen since `reset()`."""

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("pred_xyz", "pred_verts", "gt_xyz", "gt_verts", "index"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, pred_xyz: Tensor, pred_verts: Tensor, gt_xyz: Tensor, gt_verts: Tensor, index: Tensor) -> None:
        """Add a batch: pred/gt keypoints (B, 21, 3), vertices (B, 778, 3) in metres, camera frame; dataset
        sample indices (B,) long (the key used to count each sample once)."""
        b = index.shape[0]
        for name, x, n in (("pred_xyz", pred_xyz, NUM_KEYPOINTS), ("pred_verts", pred_verts, NUM_VERTICES),
                           ("gt_xyz", gt_xyz, NUM_KEYPOINTS), ("gt_verts", gt_verts, NUM_VERTICES)):  # fmt: skip
            if x.shape != (b, n, 3):
                raise ValueError(f"FreiHANDMetric.update: {name} must be ({b}, {n}, 3) for {b} indices, got "
                                 f"{tuple(x.shape)}")  # fmt: skip
        if index.dim() != 1 or index.dtype.is_floating_point:
            raise ValueError(f"FreiHANDMetric.update: index must be a (B,) integer tensor, got {index.dtype} "
                             f"{tuple(index.shape)}")  # fmt: skip
        self.pred_xyz.append(pred_xyz.detach())
        self.pred_verts.append(pred_verts.detach())
        self.gt_xyz.append(gt_xyz.detach())
        self.gt_verts.append(gt_verts.detach())
        self.index.append(index.detach().long())

    def compute(self) -> dict[str, Tensor]:
        """The scores over all unique samples (float64 scalars), keyed as `freihand_scores`."""
        if len(self.index) == 0:
            raise ValueError("FreiHANDMetric.compute: no samples were added (update was never called)")
        index = dim_zero_cat(self.index)  # (S,) all processes' samples, duplicates included
        order = torch.sort(index, stable=True).indices  # (S,)
        sorted_index = index[order]
        first = torch.ones_like(sorted_index, dtype=torch.bool)
        first[1:] = sorted_index[1:] != sorted_index[:-1]
        keep = order[first]  # (U,) first occurrence of every index, in index order
        arrays = [dim_zero_cat(s)[keep] for s in (self.pred_xyz, self.pred_verts, self.gt_xyz, self.gt_verts)]
        scores = freihand_scores(*arrays)
        return {key: torch.tensor(scores[key], dtype=torch.float64, device=self.device) for key in ALL_KEYS}
