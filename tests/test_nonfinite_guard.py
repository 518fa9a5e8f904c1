"""NonFiniteGuard: NaN steps are skipped (weights and BatchNorm statistics untouched), counted, logged, and
too many in a row stop training, through the real CLI, with the last good checkpoint intact."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from synthetic_set import synthetic_root  # noqa: F401 (fixture)
from tiny_config import SIZE, tiny_config

from handmesh.data.datamodule import FreiHANDDataModule
from handmesh.fit import CONFIG_DIR, main
from handmesh.guards import NonFiniteGuard, all_finite
from handmesh.lightning_module import HandMeshModule


class NaNInputs(HandMeshModule):
    """Training batches at `bad_steps` (global steps) get NaN images: NaN loss, gradients and BatchNorm statistics."""

    bad_steps: frozenset[int] = frozenset()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.global_step in self.bad_steps:
            batch = {**batch, "image": batch["image"] * float("nan")}
        return super().training_step(batch, batch_idx)


class Probe(pl.Callback):
    """Per step: did the parameters / the running statistics change, and the logged skip count."""

    def __init__(self) -> None:
        self.params_changed: list[bool] = []
        self.buffers_changed: list[bool] = []
        self.skipped_logged: list[float] = []

    @staticmethod
    def _buffers(module: pl.LightningModule) -> list[torch.Tensor]:
        return [b for m in module.modules() if getattr(m, "track_running_stats", False) for b in m.buffers(False)]

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        self._params = [p.detach().clone() for p in pl_module.parameters()]
        self._stats = [b.clone() for b in self._buffers(pl_module)]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        self.params_changed.append(
            any(not torch.equal(a, b) for a, b in zip(self._params, pl_module.parameters(), strict=True))
        )
        self.buffers_changed.append(
            any(not torch.equal(a, b) for a, b in zip(self._stats, self._buffers(pl_module), strict=True))
        )
        self.skipped_logged.append(float(trainer.callback_metrics["train/skipped_steps"]))


def test_all_finite() -> None:
    good = [torch.ones(3), torch.zeros(2, 2)]
    assert bool(all_finite(torch.tensor(1.0), good))
    assert not bool(all_finite(torch.tensor(float("nan")), good))
    assert not bool(all_finite(None, [torch.ones(3), torch.tensor([1.0, float("inf")])]))
    assert not bool(all_finite(None, [torch.tensor([float("nan"), 1.0])]))
    assert bool(all_finite(None, [torch.tensor([3e38, -3e38])]))  # huge but finite: no overflow in the check


def test_nan_step_is_skipped_counted_and_logged(synthetic_root: Path, standin_path: Path) -> None:  # noqa: F811
    pl.seed_everything(0)
    model = NaNInputs(
        encoder="fastvit_t8", pretrained=False, mano_path=str(standin_path), input_size=SIZE, head_hidden=64
    )
    model.bad_steps = frozenset({1})
    data = FreiHANDDataModule(str(synthetic_root), input_size=SIZE, batch_size=4, num_workers=0)
    guard, probe = NonFiniteGuard(max_consecutive=3), Probe()
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=0, callbacks=[guard, probe],
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    with pytest.warns(UserWarning, match="optimizer step skipped"):
        trainer.fit(model, datamodule=data)

    assert probe.params_changed == [True, False, True]  # the NaN step left every weight as it was
    assert probe.buffers_changed == [True, False, True]  # ... and the BatchNorm running statistics
    assert probe.skipped_logged == [0.0, 1.0, 1.0]
    assert guard.skipped == 1 and guard.consecutive == 0
    assert trainer.global_step == 3
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.isfinite(b).all() for b in model.buffers() if b.is_floating_point())
    assert guard.state_dict() == {"skipped": 1, "consecutive": 0}  # kept in checkpoints: totals survive resumes


def test_consecutive_nan_steps_stop_training_and_keep_the_good_checkpoint(
    tmp_path: Path,
    synthetic_root: Path,  # noqa: F811
    standin_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the CLI and demo.yaml's checkpoints: epoch 0 trains, every step of epoch 1 is NaN."""
    demo = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text())
    checkpoints = [cb for cb in demo["trainer"]["callbacks"] if cb["class_path"].endswith(".ModelCheckpoint")]
    assert demo["nonfinite_guard"]["max_consecutive"] == 10  # the configs wire the guard
    config = tiny_config(
        tmp_path, synthetic_root, standin_path, callbacks=checkpoints, max_epochs=3, limit_train_batches=2,
        num_sanity_val_steps=0, enable_progress_bar=False,
    )  # fmt: skip
    original = HandMeshModule.training_step

    def nan_from_epoch_1(self: HandMeshModule, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if self.current_epoch >= 1 else loss

    monkeypatch.setattr(HandMeshModule, "training_step", nan_from_epoch_1)
    with pytest.raises(SystemExit) as stop:
        main(["--config", str(config), "--report", "false", "--nonfinite_guard.max_consecutive", "2"])
    message = str(stop.value.code)
    assert message.startswith("handmesh.fit: 2 optimizer steps in a row had a non-finite loss or gradient")
    assert "checkpoints on disk are the last good ones" in message

    (folder,) = tmp_path.glob("run/tb/version_*/checkpoints")
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)
    assert (last["epoch"], last["global_step"]) == (0, 2)  # epoch 0's; nothing was saved after the NaN steps
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
    assert not list(folder.glob(".*.tmp"))
    best = [p.name for p in folder.glob("best-*.ckpt")]
    assert best == ["best-epoch=000.ckpt"]
