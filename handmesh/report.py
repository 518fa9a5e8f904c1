"""After training: score the model (and the mean-hand baseline) on the test split and write the
run's outputs: `pred.zip`, `scores.json` and overlay PNGs. Runs on global rank 0 only, outside the
Trainer, so it behaves the same after single-device and DDP training."""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
import torch
from rich.console import Console
from rich.table import Table

from handmesh.atomic import atomic_write
from handmesh.baseline import mean_hand
from handmesh.data.datamodule import FreiHANDDataModule
from handmesh.data.json_cache import load_json_array
from handmesh.data.layout import json_path
from handmesh.inference import predict_arrays
from handmesh.lightning_module import HandMeshModule
from handmesh.metrics.freihand import PAPER_KEYS, freihand_scores
from handmesh.model.inference_model import prepare_for_inference
from handmesh.submission import write_submission


def _best_weights(trainer: pl.Trainer, model: HandMeshModule) -> HandMeshModule:
    ckpt = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
    if ckpt and Path(ckpt).is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
        model.load_state_dict(state)
    return model


def run_report(
    trainer: pl.Trainer,
    model: HandMeshModule,
    datamodule: FreiHANDDataModule,
    overlays: int = 8,
    baseline: bool = True,
    out_dir: str | Path | None = None,
) -> dict[str, dict[str, float]] | None:
    """Predict the test split with the best checkpoint, write outputs, print and return the scores."""
    if not trainer.is_global_zero:
        return None
    out = Path(out_dir or trainer.log_dir or trainer.default_root_dir)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    model = _best_weights(trainer, model)
    dataset = datamodule.dataset(datamodule.test_split)
    loader = torch.utils.data.DataLoader(dataset, batch_size=datamodule.eval_batch_size, num_workers=0)
    device = model.device if model.device.type != "meta" else torch.device("cpu")
    pred = predict_arrays(prepare_for_inference(model.net, device=device), loader, device=device)
    model.cpu()
    files = {"submission": write_submission(out / "pred.zip", pred["keypoints"], pred["vertices"])}

    scores: dict[str, dict[str, float]] = {}
    if dataset.has_gt:
        gt_xyz, gt_verts = dataset.annotations["xyz"], dataset.annotations["verts"]
        scores["model"] = freihand_scores(pred["keypoints"], pred["vertices"], gt_xyz, gt_verts)
        if baseline:
            root = datamodule.root
            mano = torch.from_numpy(load_json_array(json_path(root, "training", "mano")))
            K = torch.from_numpy(load_json_array(json_path(root, "training", "K")))
            kp, verts = mean_hand(mano, K, model.hand_model, len(gt_xyz))
            scores["mean_hand_baseline"] = freihand_scores(kp.numpy(), verts.numpy(), gt_xyz, gt_verts)
        files["scores"] = out / "scores.json"
        atomic_write(files["scores"], json.dumps(scores, indent=2).encode())
        _print_scores(console, scores, model.hand_model.is_standin)

    if overlays > 0:
        from handmesh.visualize import save_overlay_grid

        files["overlays"] = save_overlay_grid(out / "overlays.png", dataset, pred, model.hand_model, count=overlays)

    for name, path in files.items():
        console.print(f"[bold]{name}[/bold]: {path}")
    return scores


def _print_scores(console: Console, scores: dict[str, dict[str, float]], standin: bool) -> None:
    title = "FreiHAND scores" + (" (procedural STAND-IN hand model, synthetic data)" if standin else "")
    table = Table(title=title)
    table.add_column("metric")
    for name in scores:
        table.add_column(name, justify="right")
    for key in PAPER_KEYS + tuple(k for k in next(iter(scores.values())) if k not in PAPER_KEYS):
        table.add_row(key, *(f"{s[key]:.4f}" for s in scores.values()))
    console.print(table)
