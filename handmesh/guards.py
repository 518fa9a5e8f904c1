"""NaN/Inf guard: a step with a non-finite loss or gradient is skipped, counted and logged.

A long run meets the odd bad batch (a degenerate sample, an overflow). Letting Adam apply a NaN
gradient turns every weight into NaN, and the next checkpoint saves them. The guard looks at the
loss and the gradients just before the optimizer step; when anything is not finite it drops the
gradients (Adam leaves parameters without a gradient alone: no update, no moment or step-count
change) and puts back the BatchNorm running statistics that the bad forward pass updated. After
`max_consecutive` bad steps in a row the run is broken, not unlucky: training stops with
`NonFiniteTrainingError`, and since no bad step ever changed the weights, the checkpoints on disk
are the last good ones.

Cost: one host-device synchronisation per optimizer step (a single boolean, read to decide whether
to step; a skip cannot be decided on the device with a standard optimizer), plus a device-side copy
of the normalisation layers' running statistics per step (small). Under DDP the decision is also
all-reduced so that every rank skips together.
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.rank_zero import rank_zero_warn
from torch import Tensor


class NonFiniteTrainingError(RuntimeError):
    """Training stopped after too many consecutive non-finite steps."""


def all_finite(loss: Tensor | None, grads: list[Tensor]) -> Tensor:
    """A 0-d bool tensor on the device: the loss and every gradient element are finite (no sync)."""
    device = grads[0].device if grads else (loss.device if loss is not None else torch.device("cpu"))
    ok = torch.ones((), dtype=torch.bool, device=device)
    if loss is not None:
        ok = ok & torch.isfinite(loss.detach()).all().to(device)
    if grads:  # the largest magnitude is NaN or inf exactly when some element is (no overflow, unlike a 2-norm)
        ok = ok & torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=math.inf))
    return ok


class NonFiniteGuard(pl.Callback):
    """Skip optimizer steps whose loss or gradients are not finite; stop after `max_consecutive` in a row.

    Logs `train/skipped_steps` (the running total) every step.

    Args:
        max_consecutive: stop training after this many skipped steps in a row (None: never stop).
        restore_buffers: also undo the buffer updates (BatchNorm running statistics) of a skipped step.
    """

    def __init__(self, max_consecutive: int | None = 10, restore_buffers: bool = True) -> None:
        if max_consecutive is not None and max_consecutive < 1:
            raise ValueError(f"max_consecutive must be at least 1 or None, got {max_consecutive}")
        self.max_consecutive = max_consecutive
        self.restore_buffers = restore_buffers
        self.skipped = 0  # skipped steps in this run (kept in checkpoints: counts across resumes)
        self.consecutive = 0  # skipped steps since the last good one
        self._loss: Tensor | None = None
        self._saved_buffers: list[Tensor] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Reset the counters (a resumed run gets its totals back from the checkpoint afterwards)."""
        self.skipped, self.consecutive, self._saved_buffers = 0, 0, []

    def state_dict(self) -> dict[str, int]:
        """The counters, saved in checkpoints."""
        return {"skipped": self.skipped, "consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Restore the counters from a checkpoint."""
        self.skipped = int(state_dict.get("skipped", 0))
        self.consecutive = int(state_dict.get("consecutive", 0))

    @staticmethod
    def _running_stats(pl_module: pl.LightningModule) -> list[Tensor]:
        """Buffers that a training forward pass changes: those of normalisation layers with running statistics."""
        return [b for m in pl_module.modules() if getattr(m, "track_running_stats", False) for b in m.buffers(False)]

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Copy the running statistics as they are before the first micro-batch of an optimizer step."""
        if not self.restore_buffers or batch_idx % trainer.accumulate_grad_batches:
            return
        buffers = self._running_stats(pl_module)
        same_layout = len(self._saved_buffers) == len(buffers) and all(
            s.shape == b.shape and s.device == b.device and s.dtype == b.dtype
            for s, b in zip(self._saved_buffers, buffers, strict=True)
        )
        if not same_layout:
            self._saved_buffers = [b.detach().clone() for b in buffers]
        elif buffers:
            torch._foreach_copy_(self._saved_buffers, buffers)

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        """Keep the loss (a device tensor: no sync) for the check before the optimizer step."""
        self._loss = loss.detach()

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        """Decide (one sync) whether this step is finite; if not, drop the gradients and undo buffer updates."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        finite = bool(all_finite(self._loss, grads))
        self._loss = None
        if trainer.world_size > 1:
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if finite:
            self.consecutive = 0
        else:
            self._skip(trainer, pl_module, params)
        pl_module.log("train/skipped_steps", float(self.skipped), on_step=True, on_epoch=False, batch_size=1)
        if self.max_consecutive is not None and self.consecutive >= self.max_consecutive:
            raise NonFiniteTrainingError(
                f"{self.consecutive} optimizer steps in a row had a non-finite loss or gradient (NaN/Inf), up to "
                f"step {trainer.global_step} (epoch {trainer.current_epoch}); stopping training. The weights were "
                f"never updated by those steps: the checkpoints on disk are the last good ones. Lower the learning "
                f"rate, check the data, or raise nonfinite_guard.max_consecutive ({self.max_consecutive})."
            )

    def _skip(self, trainer: pl.Trainer, pl_module: pl.LightningModule, params: list[torch.nn.Parameter]) -> None:
        for p in params:
            p.grad = None
        if self.restore_buffers and self._saved_buffers:
            buffers = self._running_stats(pl_module)
            if len(buffers) == len(self._saved_buffers):
                with torch.no_grad():
                    torch._foreach_copy_(buffers, self._saved_buffers)
        self.skipped += 1
        self.consecutive += 1
        rank_zero_warn(
            f"non-finite loss or gradient at step {trainer.global_step} (epoch {trainer.current_epoch}): "
            f"optimizer step skipped ({self.consecutive} in a row, {self.skipped} in this run)."
        )
