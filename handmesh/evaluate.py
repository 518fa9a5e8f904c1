"""Evaluate a FreiHAND submission against ground truth: the official script's 12 numbers, plus the paper names.

    python -m handmesh.evaluate --gt DIR --pred FILE [--json OUT] [--split evaluation]

DIR is a FreiHAND-layout root holding `<split>_xyz.json` and `<split>_verts.json` (any sample count); FILE is a
`pred.json` or `pred.zip`. The parsed ground truth is cached next to the JSON (`.handmesh_cache/`, see
`handmesh.data.json_cache`) and reused while the JSON files are unchanged. See docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from handmesh.atomic import atomic_write
from handmesh.data.errors import DataError
from handmesh.data.json_cache import load_json_array
from handmesh.metrics.arrays import all_finite
from handmesh.metrics.freihand import NUM_KEYPOINTS, NUM_VERTICES, OFFICIAL_KEYS, PAPER_KEYS, freihand_scores
from handmesh.submission import SubmissionError, check_count, read_submission

# key -> (unit, meaning), in the order the table prints them
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "xyz_mean3d": ("cm", "keypoint error, unaligned (camera frame)"),
    "xyz_auc3d": ("", "keypoint PCK AUC 0-50 mm, unaligned"),
    "xyz_al_mean3d": ("cm", "keypoint error after Procrustes alignment"),
    "xyz_al_auc3d": ("", "keypoint PCK AUC 0-50 mm, aligned"),
    "mesh_mean3d": ("cm", "vertex error, unaligned (camera frame)"),
    "mesh_auc3d": ("", "vertex PCK AUC 0-50 mm, unaligned"),
    "mesh_al_mean3d": ("cm", "vertex error after Procrustes alignment"),
    "mesh_al_auc3d": ("", "vertex PCK AUC 0-50 mm, aligned"),
    "f_score_5": ("", "F-score at 5 mm, unaligned"),
    "f_al_score_5": ("", "F-score at 5 mm, aligned"),
    "f_score_15": ("", "F-score at 15 mm, unaligned"),
    "f_al_score_15": ("", "F-score at 15 mm, aligned"),
    "pa_mpjpe_mm": ("mm", "PA-MPJPE (= xyz_al_mean3d x 10)"),
    "pa_mpvpe_mm": ("mm", "PA-MPVPE (= mesh_al_mean3d x 10)"),
    "f5": ("", "F@5mm (= f_al_score_5)"),
    "f15": ("", "F@15mm (= f_al_score_15)"),
    "mpjpe_mm": ("mm", "MPJPE, unaligned (= xyz_mean3d x 10)"),
    "mpvpe_mm": ("mm", "MPVPE, unaligned (= mesh_mean3d x 10)"),
}


def load_ground_truth(gt_dir: str | Path, split: str = "evaluation") -> tuple[np.ndarray, np.ndarray]:
    """`<split>_xyz.json` (N, 21, 3) and `<split>_verts.json` (N, 778, 3) from `gt_dir` as float64 (cached)."""
    root = Path(gt_dir)
    if not root.is_dir():
        raise DataError(f"{root}: ground-truth folder not found")
    xyz_path, verts_path = root / f"{split}_xyz.json", root / f"{split}_verts.json"
    xyz = load_json_array(xyz_path, np.float64, expected_shape_tail=(NUM_KEYPOINTS, 3))
    verts = load_json_array(verts_path, np.float64, expected_shape_tail=(NUM_VERTICES, 3))
    if len(xyz) != len(verts):
        raise DataError(f"{xyz_path} has {len(xyz)} entries but {verts_path} has {len(verts)}")
    if len(xyz) == 0:
        raise DataError(f"{xyz_path}: no samples")
    for path, array in ((xyz_path, xyz), (verts_path, verts)):
        if not all_finite(array):
            raise DataError(f"{path}: holds NaN or inf values")
    return xyz, verts


def evaluate_files(gt_dir: str | Path, pred_path: str | Path, split: str = "evaluation") -> dict[str, float]:
    """All numbers of `freihand_scores` for the submission `pred_path` against the ground truth in `gt_dir`."""
    with ThreadPoolExecutor(2) as pool:  # the JSON number readers release the GIL: read both files at once
        gt = pool.submit(load_ground_truth, gt_dir, split)
        pred = pool.submit(read_submission, pred_path)
        gt_xyz, gt_verts = gt.result()  # a ground-truth error first, as when reading one after the other
        pred_xyz, pred_verts = pred.result()
    check_count(len(pred_xyz), len(gt_xyz), str(pred_path))
    return freihand_scores(pred_xyz, pred_verts, gt_xyz, gt_verts)


def scores_table(scores: dict[str, float], title: str) -> Table:
    """A rich table of the scores: official keys with the script's 6 decimals, then the paper names."""
    table = Table(title=title)
    table.add_column("key")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("meaning")
    for key in OFFICIAL_KEYS + PAPER_KEYS:
        unit, meaning = DESCRIPTIONS[key]
        table.add_row(key, f"{scores[key]:.6f}", unit, meaning, end_section=key == OFFICIAL_KEYS[-1])
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code (0 ok, 1 bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m handmesh.evaluate", description="FreiHAND evaluation (official numbers, exact and fast)."
    )
    parser.add_argument("--gt", required=True, type=Path, help="folder holding <split>_xyz.json and <split>_verts.json")
    parser.add_argument("--pred", required=True, type=Path, help="pred.json or pred.zip ([xyz_list, verts_list])")
    parser.add_argument("--json", type=Path, default=None, help="write the scores (12 official + paper keys) here")
    parser.add_argument("--split", default="evaluation", help="ground-truth file prefix (default: evaluation)")
    args = parser.parse_args(argv)
    console = Console()
    try:
        scores = evaluate_files(args.gt, args.pred, args.split)
    except (DataError, SubmissionError, ValueError) as e:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/bold red] {e}", highlight=False)
        return 1
    console.print(scores_table(scores, f"FreiHAND scores: {args.pred} vs {args.gt}"))
    if args.json is not None:
        try:
            atomic_write(args.json, (json.dumps(scores, indent=2) + "\n").encode())
        except OSError as e:
            Console(stderr=True, soft_wrap=True).print(
                f"[bold red]error:[/bold red] cannot write {args.json}: {e.strerror or e}", highlight=False
            )
            return 1
        console.print(f"scores written to {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
