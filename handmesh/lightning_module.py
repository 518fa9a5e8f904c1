"""The LightningModule: wires encoder, head, hand model, losses and the FreiHAND metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from handmesh.geometry.camera import translation_to_weak_perspective
from handmesh.inference import prediction_outputs
from handmesh.losses import LossWeights, hand_losses, target_rotmats
from handmesh.mano.constants import ROOT_KEYPOINT
from handmesh.mano.file import DEFAULT_MANO_PATH
from handmesh.mano.hand_model import HandModel
from handmesh.mano.standin import ensure_standin
from handmesh.metrics.freihand import PAPER_KEYS
from handmesh.metrics.metric import FreiHANDMetric
from handmesh.model.compile import CompiledCall
from handmesh.model.encoder import DEFAULT_ENCODER, create_encoder
from handmesh.model.hand_regressor import HandRegressor, Prediction
from handmesh.model.head import MANOHead

Batch = dict[str, Tensor]


class HandMeshModule(pl.LightningModule):
    """FastViT + MANO hand mesh regressor.

    Args:
        encoder: timm model name (default fastvit_ma36).
        pretrained: start from ImageNet weights.
        encoder_checkpoint: local weights file for the encoder (no download).
        mano_path: MANO_RIGHT.pkl, or a stand-in path (`standin` in the name: created if absent).
        input_size: network input size S in pixels.
        head_iterations: iterative error feedback steps.
        head_hidden: head MLP width.
        init_cam_scale: initial weak-perspective scale.
        loss_weights: weights of the loss terms.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_milestones: epochs at which the learning rate is multiplied by `lr_gamma`.
        lr_gamma: the factor.
        channels_last: run the encoder in channels-last memory format (faster convolutions on GPUs).
        compile: `torch.compile` the network in training and evaluation steps (eager, with a warning, if
            compiling fails).
    """

    def __init__(
        self,
        encoder: str = DEFAULT_ENCODER,
        pretrained: bool = True,
        encoder_checkpoint: str | None = None,
        mano_path: str = str(DEFAULT_MANO_PATH),
        input_size: int = 224,
        head_iterations: int = 3,
        head_hidden: int = 1024,
        init_cam_scale: float = 7.0,
        loss_weights: LossWeights | None = None,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        lr_milestones: list[int] | None = None,
        lr_gamma: float = 0.1,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.loss_weights = loss_weights or LossWeights()
        if "standin" in Path(mano_path).name:  # the procedural stand-in is made on demand
            ensure_standin(Path(mano_path))
        hand_model = HandModel(mano_path, side="right")
        backbone = create_encoder(encoder, pretrained=pretrained, checkpoint=encoder_checkpoint)
        head = MANOHead(
            backbone.num_features,
            hand_model.hands_mean,
            init_cam_scale=init_cam_scale,
            hidden=head_hidden,
            iterations=head_iterations,
        )
        if channels_last:
            backbone = backbone.to(memory_format=torch.channels_last)
        self.net = HandRegressor(backbone, head, hand_model, input_size)
        self._compiled_net = CompiledCall(self.net) if compile else None  # not a submodule: same state dict
        self.val_metric = FreiHANDMetric()
        self.test_metric = FreiHANDMetric()

    @property
    def hand_model(self) -> HandModel:
        return self.net.hand_model

    def forward(self, images: Tensor, K: Tensor) -> Prediction:
        return self.net(images, K)

    def forward_step(self, batch: Batch) -> Prediction:
        """Run the network on a batch from `FreiHANDDataset`."""
        images = batch["image"]
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        run = self.net if self._compiled_net is None else self._compiled_net
        return run(images, batch["K"])

    def compute_loss(self, pred: Prediction, batch: Batch) -> dict[str, Tensor]:
        """All loss terms against the batch's ground truth."""
        gt_rot = target_rotmats(batch["global_orient"], batch["hand_pose"], self.hand_model.hands_mean)
        gt_root = batch["keypoints3d"][:, ROOT_KEYPOINT]  # (B, 3) camera frame
        gt_cam = translation_to_weak_perspective(gt_root, batch["K"].to(gt_root.dtype), self.hparams.input_size)
        return hand_losses(
            pred.vertices_rel,
            pred.keypoints_rel,
            pred.keypoints2d,
            pred.rotmats,
            pred.betas,
            pred.cam,
            batch["vertices_rel"],
            batch["keypoints3d_rel"],
            batch["keypoints2d"],
            gt_rot,
            batch["betas"],
            gt_cam,
            self.loss_weights,
        )

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        losses = self.compute_loss(self.forward_step(batch), batch)
        bs = batch["image"].shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, batch_size=bs)
        self.log("train/loss", losses["total"].detach(), prog_bar=True, batch_size=bs)
        return losses["total"]

    def _eval_step(self, batch: Batch, metric: FreiHANDMetric, stage: str) -> Prediction:
        pred = self.forward_step(batch)
        losses = self.compute_loss(pred, batch)
        self.log(f"{stage}/loss", losses["total"], batch_size=batch["image"].shape[0], sync_dist=True)
        metric.update(pred.keypoints, pred.vertices, batch["keypoints3d"], batch["vertices"], batch["index"])
        return pred

    def _log_metric(self, metric: FreiHANDMetric, stage: str) -> dict[str, Tensor]:
        scores = metric.compute()
        # the paper's numbers; the whole official table goes to scores.json
        self.log_dict({f"{stage}/{k}": scores[k] for k in PAPER_KEYS}, prog_bar=False)
        self.log(f"{stage}/pa_mpjpe", scores["pa_mpjpe_mm"], prog_bar=True)
        metric.reset()
        return scores

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metric, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_metric(self.val_metric, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metric, "test")

    def on_test_epoch_end(self) -> None:
        self.test_scores = {k: float(v) for k, v in self._log_metric(self.test_metric, "test").items()}

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        return prediction_outputs(self.forward_step(batch), batch["index"])

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        # The fused (single-kernel) Adam needs every parameter on a GPU.
        fused = all(p.device.type == "cuda" for p in self.parameters())
        optimizer = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, fused=fused or None)
        milestones = list(hp.lr_milestones or [])
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=hp.lr_gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
