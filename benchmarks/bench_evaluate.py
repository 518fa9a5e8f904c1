"""Benchmark the FreiHAND evaluator: (a) all numbers in memory, (b) end to end from files through the CLI code
path (GT JSON + pred.json written to a temporary folder; first run parses the JSON, second reuses the cache).

    python benchmarks/bench_evaluate.py [--samples 3960] [--repeat 3] [--json out.json]

Data: random hand-like meshes with a fixed vertex order (778 vertices: palm + five articulated fingers, 21
keypoints), random global pose in front of the camera. Predictions are the same hands with perturbed finger
angles, rotation, scale, small per-vertex noise and a camera-frame translation error, giving numbers in the
range of real methods (PA-MPVPE ~ 7 mm, F@5 ~ 0.6-0.7, unaligned errors of a few cm).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, best_of, machine_info, write_json  # noqa: E402

from handmesh.evaluate import evaluate_files  # noqa: E402
from handmesh.metrics.freihand import freihand_scores  # noqa: E402
from handmesh.submission import write_submission  # noqa: E402

N_VERTS, N_KP = 778, 21


def _rotation(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) -> (..., 3, 3)."""
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)[..., None]
    k = axis_angle / np.maximum(np.linalg.norm(axis_angle, axis=-1, keepdims=True), 1e-12)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    kmat = np.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(*k.shape[:-1], 3, 3)
    eye = np.broadcast_to(np.eye(3), kmat.shape)
    return eye + np.sin(angle) * kmat + (1 - np.cos(angle)) * kmat @ kmat


class SyntheticHand:
    """A fixed-topology hand-like surface: 298 palm vertices on a flattened ellipsoid and 5 fingers of 3
    segments (96 vertices each on cylinders), bent at each joint; keypoints at wrist, joints and tips."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        u = rng.normal(size=(N_VERTS - 5 * 96, 3))
        self.palm = u / np.linalg.norm(u, axis=1, keepdims=True) * np.array([0.042, 0.048, 0.014])
        self.bases = np.array(
            [[-0.04, -0.01, 0.0], [-0.03, 0.045, 0], [-0.01, 0.05, 0], [0.01, 0.048, 0], [0.03, 0.042, 0]]
        )
        self.lengths = np.array(
            [
                [0.035, 0.03, 0.025],
                [0.04, 0.025, 0.02],
                [0.045, 0.028, 0.022],
                [0.042, 0.026, 0.02],
                [0.032, 0.02, 0.018],
            ]
        )
        self.finger_t = rng.uniform(0, 1, size=(5, 96))  # position along the finger (0..3 segments)
        self.finger_t = np.sort(self.finger_t, axis=1) * 3
        self.finger_a = rng.uniform(0, 2 * np.pi, size=(5, 96))  # angle around the finger

    def pose(self, bends: np.ndarray, rot: np.ndarray, trans: np.ndarray, scale: np.ndarray) -> tuple:
        """bends (B, 5, 3) radians, rot (B, 3) axis-angle, trans (B, 3), scale (B,) -> xyz (B,21,3), verts (B,778,3)."""
        b = bends.shape[0]
        verts = [np.broadcast_to(self.palm, (b, *self.palm.shape))]
        kps = [np.zeros((b, 1, 3))]
        for f in range(5):
            direction = np.array([-0.8, 0.6, 0.0]) if f == 0 else np.array([0.0, 1.0, 0.0])
            direction = np.broadcast_to(direction, (b, 3))
            joint = np.broadcast_to(self.bases[f], (b, 3)).copy()
            seg_pts = []
            for s in range(3):
                angle = bends[:, f, : s + 1].sum(1)  # bending about the x axis accumulates
                d = direction * np.cos(angle)[:, None] + np.array([0, 0, 1.0]) * np.sin(angle)[:, None]
                t = self.finger_t[f]
                sel = (t >= s) & (t < s + 1)
                local = (t[sel] - s)[None, :, None] * self.lengths[f, s] * d[:, None, :]
                ring = 0.0085 * np.stack(
                    [np.cos(self.finger_a[f][sel]), np.zeros(sel.sum()), np.sin(self.finger_a[f][sel])], -1
                )
                seg_pts.append(joint[:, None, :] + local + ring[None])
                kps.append(joint[:, None, :].copy())
                joint = joint + self.lengths[f, s] * d
            kps.append(joint[:, None, :])
            verts.append(np.concatenate(seg_pts, 1))
        verts = np.concatenate(verts, 1)
        kp = np.concatenate(kps, 1)  # wrist + 5 x (3 joints + tip) = 21
        r = _rotation(rot)
        verts = scale[:, None, None] * verts @ r.transpose(0, 2, 1) + trans[:, None]
        kp = scale[:, None, None] * kp @ r.transpose(0, 2, 1) + trans[:, None]
        return kp, verts


def make_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Ground truth and predictions for n samples (float64, metres, camera frame)."""
    rng = np.random.default_rng(seed)
    hand = SyntheticHand(seed)
    bends = rng.uniform(0, 1.2, size=(n, 5, 3))
    rot = rng.normal(size=(n, 3)) * 1.5
    trans = np.stack([rng.normal(0, 0.05, n), rng.normal(0, 0.05, n), rng.uniform(0.5, 0.9, n)], -1)
    scale = rng.uniform(0.9, 1.1, n)
    gt_xyz, gt_verts = hand.pose(bends, rot, trans, scale)
    p_xyz, p_verts = hand.pose(
        bends + rng.normal(0, 0.12, bends.shape),
        rot + rng.normal(0, 0.05, rot.shape),
        trans + rng.normal(0, 0.02, trans.shape),
        scale * rng.uniform(0.95, 1.05, n),
    )
    p_verts = p_verts + rng.normal(0, 0.0015, p_verts.shape)
    p_xyz = p_xyz + rng.normal(0, 0.0015, p_xyz.shape)
    return {"gt_xyz": gt_xyz, "gt_verts": gt_verts, "pred_xyz": p_xyz, "pred_verts": p_verts}


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=3960)
    parser.add_argument("--repeat", type=int, default=3, help="in-memory timing: best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    console = Console()
    data = make_data(args.samples)
    table = Table(
        title=f"FreiHAND evaluator, {args.samples} samples, {torch.get_num_threads()} torch threads, "
        f"{platform.processor() or platform.machine()}"
    )
    table.add_column("stage")
    table.add_column("seconds", justify="right")

    t_mem, scores = best_of(
        lambda: freihand_scores(data["pred_xyz"], data["pred_verts"], data["gt_xyz"], data["gt_verts"]), args.repeat
    )
    table.add_row(f"(a) in memory, all {len(scores)} numbers (best of {args.repeat})", f"{t_mem:.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        for name, key in (("xyz", "gt_xyz"), ("verts", "gt_verts")):
            (root / f"evaluation_{name}.json").write_text(json.dumps(data[key].tolist()))
        pred = write_submission(root / "pred.json", data["pred_xyz"], data["pred_verts"])
        table.add_row("    (writing the files, not timed below)", f"{time.perf_counter() - t0:.3f}")
        t_cold, cold = best_of(lambda: evaluate_files(root, pred), 1)
        t_warm, warm = best_of(lambda: evaluate_files(root, pred), 1)
        table.add_row("(b) end to end from files, first run (parse GT JSON, build cache)", f"{t_cold:.3f}")
        table.add_row("(b) end to end from files, second run (GT from cache)", f"{t_warm:.3f}")
    console.print(table)
    assert cold == warm
    diff = max(abs(cold[k] - scores[k]) for k in scores)
    console.print(f"max |file path - in memory| over all numbers: {diff:.2e}")
    summary = Table(title="numbers on the synthetic data")
    summary.add_column("name")
    summary.add_column("value", justify="right")
    for key, value in scores.items():
        summary.add_row(key, f"{value:.6f}")
    console.print(summary)
    if args.json is not None:
        rows = [
            Row(f"(a) in memory, {args.samples} samples, best of {args.repeat}", "time", t_mem, "s"),
            Row(f"(b) from files, {args.samples} samples, first run", "time", t_cold, "s"),
            Row(f"(b) from files, {args.samples} samples, GT from cache", "time", t_warm, "s"),
        ]
        options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        write_json(args.json, "evaluate", rows, machine_info("cpu"), options=options, max_file_vs_memory=diff)


if __name__ == "__main__":
    main()
