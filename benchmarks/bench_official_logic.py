"""Same-machine baseline for `python -m handmesh.evaluate`: the official FreiHAND evaluation's logic, sample by
sample, written here from its definition (DESIGN.md §3), timed end to end on the same files.

    python benchmarks/bench_official_logic.py --gt DIR --pred DIR/pred.json [--json out.json]

It does what the official script does, in the same way: `json.load` of the ground truth and the predictions,
then per sample a scipy `orthogonal_procrustes` alignment with scale, per-keypoint error lists, and the F-scores
from open3d's `compute_point_cloud_distance` both ways; then per-point means, PCK curves and trapezoid AUCs.
open3d is not a handmesh dependency: install it (e.g. `pip install open3d-cpu`) to run this. The printed numbers
also serve as an independent check of handmesh's (same 12 keys, 6 decimals).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.linalg import orthogonal_procrustes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, machine_info, write_json  # noqa: E402

THRESHOLDS = np.linspace(0.0, 0.05, 100)


def _align(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    mu_g, mu_p = gt.mean(0), pred.mean(0)
    a, b = gt - mu_g, pred - mu_p
    na, nb = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    r, s = orthogonal_procrustes(a / na, b / nb)
    return np.dot(b / nb, r.T) * s * na + mu_g


def _fscore(o3d, gt: np.ndarray, pred: np.ndarray, t: float) -> float:
    g = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(gt))
    p = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pred))
    d_gt, d_pred = g.compute_point_cloud_distance(p), p.compute_point_cloud_distance(g)
    precision = float(sum(d < t for d in d_gt)) / float(len(d_gt))
    recall = float(sum(d < t for d in d_pred)) / float(len(d_pred))
    return 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0


def _mean_auc(per_point: list[list[float]]) -> tuple[float, float]:
    norm = np.trapezoid(np.ones_like(THRESHOLDS), THRESHOLDS)
    means, aucs = [], []
    for errors in per_point:
        data = np.array(errors)
        means.append(np.mean(data))
        pck = [np.mean((data <= t).astype("float")) for t in THRESHOLDS]
        aucs.append(np.trapezoid(pck, THRESHOLDS) / norm)
    return float(np.mean(means)), float(np.mean(aucs))


def evaluate(gt_dir: Path, pred_file: Path) -> dict[str, float]:
    """The 12 official numbers (means in cm), computed the official way."""
    import open3d as o3d

    with open(gt_dir / "evaluation_xyz.json") as f:
        gt_xyz = json.load(f)
    with open(gt_dir / "evaluation_verts.json") as f:
        gt_verts = json.load(f)
    with open(pred_file) as f:
        pred_xyz, pred_verts = json.load(f)
    sizes = {"xyz": 21, "xyz_al": 21, "mesh": 778, "mesh_al": 778}
    errors: dict[str, list[list[float]]] = {key: [[] for _ in range(n)] for key, n in sizes.items()}
    f, f_al = [], []
    for i in range(len(gt_xyz)):
        xyz, xyz_p = np.array(gt_xyz[i]), np.array(pred_xyz[i])
        verts, verts_p = np.array(gt_verts[i]), np.array(pred_verts[i])
        xyz_al, verts_al = _align(xyz, xyz_p), _align(verts, verts_p)
        for key, gt, pred in (("xyz", xyz, xyz_p), ("xyz_al", xyz, xyz_al),
                              ("mesh", verts, verts_p), ("mesh_al", verts, verts_al)):  # fmt: skip
            for j, d in enumerate(np.sqrt(np.sum(np.square(gt - pred), axis=1))):
                errors[key][j].append(d)
        f.append([_fscore(o3d, verts, verts_p, t) for t in (0.005, 0.015)])
        f_al.append([_fscore(o3d, verts, verts_al, t) for t in (0.005, 0.015)])
    out: dict[str, float] = {}
    for key, per_point in errors.items():
        mean, auc = _mean_auc(per_point)
        out[f"{key}_mean3d"], out[f"{key}_auc3d"] = mean * 100.0, auc
    f_arr, f_al_arr = np.array(f), np.array(f_al)
    out.update(f_score_5=float(f_arr[:, 0].mean()), f_al_score_5=float(f_al_arr[:, 0].mean()),
               f_score_15=float(f_arr[:, 1].mean()), f_al_score_15=float(f_al_arr[:, 1].mean()))  # fmt: skip
    return out


def main() -> None:
    """Time the official logic end to end (reading included) and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt", type=Path, required=True, help="folder with evaluation_xyz.json, evaluation_verts.json")
    parser.add_argument("--pred", type=Path, required=True, help="pred.json")
    parser.add_argument("--json", type=Path, default=None, help="also write the timing and numbers here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    scores = evaluate(args.gt, args.pred)
    seconds = time.perf_counter() - t0
    for key, value in scores.items():
        print(f"{key:14s} {value:f}")
    print(f"official logic, end to end (json.load included): {seconds:.1f} s")
    if args.json is not None:
        rows = [Row("official logic, end to end", "time", seconds, "s")]
        write_json(args.json, "official_logic", rows, machine_info("cpu"), options={"scores": scores})


if __name__ == "__main__":
    main()
