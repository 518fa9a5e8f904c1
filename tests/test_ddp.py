"""A 2-process DDP run (gloo, CPU) through the real CLI: its validation numbers equal a 1-process evaluation
of the same checkpoint on the same data, every sample counted once although the distributed sampler pads."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_config import tiny_config

from handmesh.metrics.freihand import freihand_scores

REPO = Path(__file__).resolve().parents[1]
EVAL = 5  # odd: with 2 processes the sampler pads the second one with a repeat of sample 0
LOGGED = ("pa_mpjpe_mm", "pa_mpvpe_mm", "f5", "f15", "mpjpe_mm", "mpvpe_mm")


def _run(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _last_scalars(version: Path) -> dict[str, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = version.glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events)).Reload()
    return {key: acc.Scalars(f"val/{key}")[-1].value for key in LOGGED}


def test_ddp_validation_equals_single_process_evaluation(tmp_path: Path, standin_path: Path) -> None:
    from handmesh.data.synthetic import ensure_synthetic

    root = ensure_synthetic(tmp_path / "set", 4, EVAL, 3, standin_path)  # 16 training images
    config = tiny_config(tmp_path, root, standin_path, max_epochs=1, accelerator="cpu", devices=2, strategy="ddp",
                         limit_train_batches=1.0)  # fmt: skip
    _run(["-m", "handmesh.fit", "--config", str(config), "--data.eval_batch_size", "2", "--report", "false"])

    (version,) = (tmp_path / "run" / "tb").glob("version_*")
    ckpt = version / "checkpoints" / "last.ckpt"
    # 8 of the 16 training images a process: 2 steps (one process would take 4).
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 2
    ddp = _last_scalars(version)

    # The same checkpoint, one process, the whole evaluation split.
    _run(["-m", "handmesh.predict", "--ckpt", str(ckpt), "--data", str(root), "--out", str(tmp_path / "pred"),
          "--workers", "0"])  # fmt: skip
    with zipfile.ZipFile(tmp_path / "pred" / "pred.zip") as zf:
        xyz, verts = (np.asarray(a) for a in json.loads(zf.read("pred.json")))
    gt_xyz = np.asarray(json.loads((root / "evaluation_xyz.json").read_text()))
    gt_verts = np.asarray(json.loads((root / "evaluation_verts.json").read_text()))
    single = freihand_scores(xyz, verts, gt_xyz, gt_verts)
    for key in LOGGED:
        assert ddp[key] == pytest.approx(float(single[key]), rel=1e-4, abs=1e-4), key

    # Counting the sampler's padded repeat of sample 0 would have given other numbers: the check above can fail.
    padded = [np.concatenate([a, a[:1]]) for a in (xyz, verts, gt_xyz, gt_verts)]
    with_repeat = freihand_scores(*padded)
    assert abs(float(with_repeat["pa_mpjpe_mm"]) - ddp["pa_mpjpe_mm"]) > 1e-3
