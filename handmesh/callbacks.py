"""Lightning callbacks: overlays of a fixed set of validation samples in TensorBoard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import default_collate


class OverlayLogger(pl.Callback):
    """Every `every_n_epochs` validation epochs, log a grid of prediction pictures to TensorBoard.

    The same first `count` validation samples every time, so progress is visible across epochs:
    input, keypoints, prediction over the image and from the side, ground truth, error map. The
    renderer lives here (made on first use, on global rank 0 only), never inside the LightningModule.

    Args:
        every_n_epochs: log on validation epochs whose index is a multiple of this.
        count: number of samples (rows).
        tag: TensorBoard image tag.
    """

    def __init__(self, every_n_epochs: int = 5, count: int = 6, tag: str = "val/overlays") -> None:
        self.every_n_epochs, self.count, self.tag = every_n_epochs, count, tag
        self._renderer: Any = None
        self.logged_steps: list[int] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.current_epoch % self.every_n_epochs:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        grid = self.picture(trainer.val_dataloaders.dataset, pl_module)  # (H, W, 3) uint8
        for lg in loggers:
            lg.experiment.add_image(self.tag, grid, global_step=trainer.global_step, dataformats="HWC")
        self.logged_steps.append(trainer.global_step)

    @torch.no_grad()
    def picture(self, dataset: Any, pl_module: pl.LightningModule) -> np.ndarray:
        """The grid for the first `count` samples of `dataset` (items as `FreiHANDDataset` gives them)."""
        from handmesh.render.renderer import Renderer
        from handmesh.visualize import SampleView, denormalize_image, overlay_grid

        batch = default_collate([dataset[i] for i in range(min(self.count, len(dataset)))])
        was_training = pl_module.training
        pl_module.eval()
        pred = pl_module.net(batch["image"].to(pl_module.device), batch["K"].to(pl_module.device))
        pl_module.train(was_training)
        has_gt = batch["has_gt"].bool().tolist()
        samples = [
            SampleView(
                image=denormalize_image(batch["image"][i]),
                K=batch["K"][i].numpy(),
                pred_vertices=pred.vertices[i].cpu().numpy(),
                pred_keypoints=pred.keypoints[i].cpu().numpy(),
                gt_vertices=batch["vertices"][i].numpy() if has_gt[i] else None,
                gt_keypoints=batch["keypoints3d"][i].numpy() if has_gt[i] else None,
                title=f"sample {int(batch['index'][i])}",
            )
            for i in range(len(has_gt))
        ]
        if self._renderer is None:
            self._renderer = Renderer()
        faces = pl_module.hand_model.faces.cpu().numpy()
        return overlay_grid(samples, faces, self._renderer)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
