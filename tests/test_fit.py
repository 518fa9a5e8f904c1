"""`python -m handmesh.fit` end to end on a tiny synthetic set, through the real CLI and a config file."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_set import EVAL, synthetic_root  # noqa: F401 (fixture)
from tiny_config import tiny_config

from handmesh.fit import CONFIG_DIR, resolve_config_args
from handmesh.metrics.freihand import freihand_scores

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path, standin_path: Path) -> Path:  # noqa: F811
    """Run the CLI once in a subprocess (as a user would); return the run folder."""
    tmp = tmp_path_factory.mktemp("fit")
    config = tiny_config(tmp, synthetic_root, standin_path)
    proc = subprocess.run(
        [sys.executable, "-m", "handmesh.fit", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "run"


def _version_dir(run: Path) -> Path:
    (version,) = (run / "tb").glob("version_*")
    return version


def test_bare_config_name_resolves_to_configs_folder() -> None:
    assert resolve_config_args(["--config", "demo.yaml"]) == ["--config", str(CONFIG_DIR / "demo.yaml")]
    assert resolve_config_args(["--config=freihand"]) == [f"--config={CONFIG_DIR / 'freihand.yaml'}"]
    assert resolve_config_args(["--config", "nowhere/x.yaml"]) == ["--config", "nowhere/x.yaml"]


def test_fit_writes_checkpoints_logs_and_report(fitted: Path, synthetic_root: Path) -> None:  # noqa: F811
    version = _version_dir(fitted)
    ckpts = {p.name for p in (version / "checkpoints").glob("*.ckpt")}
    assert "last.ckpt" in ckpts and any(n.startswith("best-") for n in ckpts), ckpts
    (events,) = version.glob("events.out.tfevents.*")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = EventAccumulator(str(events)).Reload().Tags()
    assert "val/pa_mpjpe_mm" in logged["scalars"] and "train/loss" in logged["scalars"]
    assert "val/overlays" in logged["images"]  # the OverlayLogger callback of the config
    assert (version / "config.yaml").is_file()

    with zipfile.ZipFile(version / "pred.zip") as zf:
        xyz, verts = json.loads(zf.read("pred.json"))
    assert np.asarray(xyz).shape == (EVAL, 21, 3) and np.asarray(verts).shape == (EVAL, 778, 3)

    scores = json.loads((version / "scores.json").read_text())
    assert set(scores) == {"model", "mean_hand_baseline"}
    gt_xyz = np.asarray(json.loads((synthetic_root / "evaluation_xyz.json").read_text()))
    gt_verts = np.asarray(json.loads((synthetic_root / "evaluation_verts.json").read_text()))
    # The stored scores are those of the stored submission against the ground truth.
    again = freihand_scores(np.asarray(xyz), np.asarray(verts), gt_xyz, gt_verts)
    for key in ("pa_mpjpe_mm", "f5", "xyz_al_mean3d", "mesh_mean3d"):
        assert scores["model"][key] == pytest.approx(float(again[key]), rel=1e-5, abs=1e-6)
    assert (version / "overlays.png").stat().st_size > 10_000


def test_checkpoint_reloads_and_predicts_the_same(fitted: Path, synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    from handmesh.predict import main as predict_main

    version = _version_dir(fitted)
    best = next((version / "checkpoints").glob("best-*.ckpt"))
    assert predict_main(["--ckpt", str(best), "--data", str(synthetic_root), "--out", str(tmp_path), "--workers", "0",
                         "--meshes"]) == 0  # fmt: skip
    with zipfile.ZipFile(tmp_path / "pred.zip") as zf:
        xyz_again, verts_again = (np.asarray(a) for a in json.loads(zf.read("pred.json")))
    with zipfile.ZipFile(version / "pred.zip") as zf:
        xyz, verts = (np.asarray(a) for a in json.loads(zf.read("pred.json")))
    np.testing.assert_allclose(xyz_again, xyz, atol=1e-6)
    np.testing.assert_allclose(verts_again, verts, atol=1e-6)
    assert len(list((tmp_path / "meshes").glob("*.obj"))) == EVAL


def test_resume_from_last_checkpoint_continues_training(fitted: Path, synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    version = _version_dir(fitted)
    last = torch.load(version / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 1 and last["global_step"] == 4
    config = version / "config.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "handmesh.fit", "--config", str(config), "--trainer.max_epochs", "3",
         "--ckpt_path", str(version / "checkpoints" / "last.ckpt"), "--report", "false",
         "--trainer.default_root_dir", str(tmp_path), "--trainer.logger.init_args.save_dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    resumed = torch.load(next(tmp_path.glob("tb/version_*/checkpoints/last.ckpt")), weights_only=False)
    assert resumed["epoch"] == 2 and resumed["global_step"] == 6  # one more epoch of 2 steps, not 3 from scratch
