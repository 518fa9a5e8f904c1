"""The official FreiHAND evaluation (DESIGN.md §3), batched: the same numbers, 10-50x faster than the official script.

Errors are Euclidean distances in metres, per point (21 keypoints, 778 vertices) and per sample:
- unaligned: the prediction as given (camera frame); aligned: Procrustes-aligned with scale per sample
  (`handmesh.metrics.alignment`, reflections allowed, as the official script);
- mean error: mean over points of the per-point mean over samples (the official script prints cm);
- AUC: per point, PCK(t) = fraction of samples with error <= t for t in linspace(0, 0.05, 100) m,
  AUC = trapezoid(PCK) / trapezoid(ones), averaged over points;
- F-score at 5 mm and 15 mm on vertices: nearest neighbours both ways (no correspondence), precision =
  fraction of ground-truth points whose nearest prediction is < t, recall = fraction of predicted points
  whose nearest ground-truth point is < t, F = 2PR / (P + R) (0 when both are 0), averaged over samples.

Exactness: distances are float64 `sqrt((dx^2 + dy^2) + dz^2)`, the association numpy (EvalUtil) and the
KD-tree of open3d (F-score) use, so a distance exactly at a threshold is decided as the official script decides
it. The final reductions (per-point means, trapezoids, F-scores and their means) are done with numpy on arrays
laid out as the official script's, so they round the same way.

Nearest neighbours (the expensive part: 3,960 x 778 x 778 pairs per alignment by brute force) are decided
exactly by a grid search in compiled code, `handmesh.metrics.nearest`. numpy and numba only: torch is not
imported (inputs may still be tensors, on any device).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from handmesh.metrics.alignment import procrustes_aligned
from handmesh.metrics.arrays import ArrayLike, all_finite, as_float64
from handmesh.metrics.nearest import count_within

# The 12 numbers of the official script, in its order (means in cm, as it prints them).
OFFICIAL_KEYS: tuple[str, ...] = (
    "xyz_mean3d",
    "xyz_auc3d",
    "xyz_al_mean3d",
    "xyz_al_auc3d",
    "mesh_mean3d",
    "mesh_auc3d",
    "mesh_al_mean3d",
    "mesh_al_auc3d",
    "f_score_5",
    "f_al_score_5",
    "f_score_15",
    "f_al_score_15",
)
# The names papers quote (mm; f5/f15 are the aligned F-scores), plus the unaligned errors in mm.
PAPER_KEYS: tuple[str, ...] = ("pa_mpjpe_mm", "pa_mpvpe_mm", "f5", "f15", "mpjpe_mm", "mpvpe_mm")
ALL_KEYS: tuple[str, ...] = OFFICIAL_KEYS + PAPER_KEYS

AUC_MIN, AUC_MAX, AUC_STEPS = 0.0, 0.05, 100
F_THRESHOLDS: tuple[float, ...] = (0.005, 0.015)
NUM_KEYPOINTS, NUM_VERTICES = 21, 778


def auc_thresholds() -> np.ndarray:
    """The official AUC thresholds `np.linspace(0.0, 0.05, 100)` (metres, float64)."""
    return np.linspace(AUC_MIN, AUC_MAX, AUC_STEPS)


# --------------------------------------------------------------------------------------------------------------
# Per-point errors, mean and AUC


def point_errors(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """Euclidean distance per point: (B, N, 3), (B, N, 3) -> (B, N) float64, as the official script computes it."""
    gt64, pred64 = as_float64(gt), as_float64(pred)
    if gt64.shape != pred64.shape or gt64.ndim != 3 or gt64.shape[-1] != 3:
        raise ValueError(f"point_errors: expected two (B, N, 3) arrays, got {pred64.shape} and {gt64.shape}")
    return _distances(gt64, pred64)


@numba.njit(cache=True, nogil=True)
def _distances(a, b):  # pragma: no cover - compiled
    """sqrt((dx^2 + dy^2) + dz^2) of a - b per point, the official script's rounding: (B, N, 3) x 2 -> (B, N)."""
    out = np.empty(a.shape[:2])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            dx = a[i, j, 0] - b[i, j, 0]
            dy = a[i, j, 1] - b[i, j, 1]
            dz = a[i, j, 2] - b[i, j, 2]
            out[i, j] = math.sqrt((dx * dx + dy * dy) + dz * dz)
    return out


def mean_error(errors: ArrayLike) -> float:
    """Official mean error (metres): mean over points of the per-point mean over samples. errors: (B, N)."""
    per_point = np.ascontiguousarray(as_float64(errors).T).mean(axis=1)  # (N,), each a contiguous pairwise sum
    return float(per_point.mean())


def pck_curves(errors: ArrayLike, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Per-point PCK curves: (N, T) fraction of samples with error <= threshold (inclusive). errors: (B, N)."""
    thr = auc_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0 or not np.all(np.diff(thr) > 0):
        raise ValueError(f"pck_curves: thresholds must be a non-empty increasing 1-D array, got {thr}")
    e = as_float64(errors)
    counts = _bucket_counts(e, thr)  # (N, T + 1)
    return counts[:, : thr.size].cumsum(1) / float(e.shape[0])  # integer counts / B, as np.mean of booleans


@numba.njit(cache=True, nogil=True)
def _bucket_counts(errors, thr):  # pragma: no cover - compiled
    """counts[n, k]: samples whose error at point n lies in (thr[k-1], thr[k]] (k = T: beyond the last threshold).

    The bucket is first guessed as if the thresholds were evenly spaced, then moved until it is exact.
    """
    b, n = errors.shape
    t = thr.shape[0]
    counts = np.zeros((n, t + 1), np.int64)
    scale = (t - 1) / (thr[t - 1] - thr[0]) if t > 1 else 0.0
    for i in range(b):
        for j in range(n):
            e = errors[i, j]
            g = (e - thr[0]) * scale
            if g >= t or g != g:  # beyond the last threshold, or NaN: `e <= t` never holds
                k = t
            elif g > 0:
                k = int(g)
            else:
                k = 0
            while k > 0 and thr[k - 1] >= e:
                k -= 1
            while k < t and thr[k] < e:
                k += 1
            counts[j, k] += 1
    return counts


def auc(errors: ArrayLike, thresholds: np.ndarray | None = None) -> float:
    """Official AUC: per point trapezoid(PCK) / trapezoid(ones) over the thresholds, averaged over points."""
    thr = auc_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    pck = pck_curves(errors, thr)  # (N, T)
    norm = _trapezoid(np.ones((1, thr.size)), thr)[0]
    return float((_trapezoid(pck, thr) / norm).mean())


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Row-wise `np.trapz(y_row, x)` with numpy's own arithmetic: (R, T), (T,) -> (R,)."""
    d = np.diff(x)
    return np.add.reduce(d * (y[:, 1:] + y[:, :-1]) / 2.0, axis=1)


# --------------------------------------------------------------------------------------------------------------
# F-score


def f_scores(
    pred_verts: ArrayLike, gt_verts: ArrayLike, thresholds: Sequence[float] = F_THRESHOLDS, check_finite: bool = True
) -> np.ndarray:
    """Per-sample F-scores (B, len(thresholds)) float64 between predicted and ground-truth point sets.

    pred_verts (B, M, 3), gt_verts (B, N, 3), metres. Computed as the official `calculate_fscore`:
    precision = share of GT points with a prediction closer than t, recall = share of predicted points with a
    GT point closer than t, F = 2 * recall * precision / (recall + precision), 0 when both are 0.
    check_finite=False skips the NaN/inf check, for inputs already checked.
    """
    pred, gt = as_float64(pred_verts), as_float64(gt_verts)
    if pred.ndim != 3 or gt.ndim != 3 or pred.shape[0] != gt.shape[0] or pred.shape[-1] != 3 or gt.shape[-1] != 3:
        raise ValueError(f"f_scores: expected (B, M, 3) and (B, N, 3), got {tuple(pred.shape)} and {tuple(gt.shape)}")
    n_gt, n_pred = gt.shape[1], pred.shape[1]
    if n_gt == 0 or n_pred == 0:
        return np.zeros((pred.shape[0], len(thresholds)), dtype=np.float64)  # the official script scores 0
    count_gt, count_pred = count_within(gt, pred, thresholds, check_finite=check_finite)  # (T, B) each
    # counts / lengths, as float(sum(d < th for d in ...)) / float(len(...)): exact
    precision = count_gt.astype(np.float64) / float(n_gt)
    recall = count_pred.astype(np.float64) / float(n_pred)
    total = recall + precision
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(total > 0, 2 * recall * precision / total, 0.0)
    return np.ascontiguousarray(f.T)


# --------------------------------------------------------------------------------------------------------------
# The whole table


def freihand_scores(
    pred_xyz: ArrayLike,
    pred_verts: ArrayLike,
    gt_xyz: ArrayLike,
    gt_verts: ArrayLike,
) -> dict[str, float]:
    """All official FreiHAND numbers (OFFICIAL_KEYS, means in cm) plus the paper names (PAPER_KEYS, mm).

    pred_xyz, gt_xyz: (B, 21, 3); pred_verts, gt_verts: (B, 778, 3); metres, camera frame; numpy or torch (any
    device). Raises ValueError for mismatched shapes, no samples, or non-finite values.
    """
    pred_xyz, pred_verts, gt_xyz, gt_verts = (as_float64(x) for x in (pred_xyz, pred_verts, gt_xyz, gt_verts))
    _check_shapes(pred_xyz, gt_xyz, "keypoints")
    _check_shapes(pred_verts, gt_verts, "vertices")
    if pred_xyz.shape[0] != pred_verts.shape[0]:
        raise ValueError(f"{pred_xyz.shape[0]} keypoint samples but {pred_verts.shape[0]} vertex samples")
    if pred_xyz.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    for name, x in (("pred_xyz", pred_xyz), ("pred_verts", pred_verts), ("gt_xyz", gt_xyz), ("gt_verts", gt_verts)):
        if not all_finite(x):
            raise ValueError(f"{name} holds non-finite values (NaN or inf)")
    verts_al = procrustes_aligned(pred_verts, gt_verts)
    errors = {
        "xyz": point_errors(pred_xyz, gt_xyz),
        "xyz_al": point_errors(procrustes_aligned(pred_xyz, gt_xyz), gt_xyz),
        "mesh": point_errors(pred_verts, gt_verts),
        "mesh_al": point_errors(verts_al, gt_verts),
    }
    out: dict[str, float] = {}
    for name, err in errors.items():
        out[f"{name}_mean3d"] = mean_error(err) * 100.0  # cm, as the official script writes
        out[f"{name}_auc3d"] = auc(err)
    f = f_scores(pred_verts, gt_verts, F_THRESHOLDS, check_finite=False)  # (B, T); inputs checked above
    f_al = f_scores(verts_al, gt_verts, F_THRESHOLDS, check_finite=False)  # finite: a similarity of finite points
    for i, t in enumerate(F_THRESHOLDS):
        mm = round(t * 1000)
        out[f"f_score_{mm}"] = float(np.ascontiguousarray(f[:, i]).mean())
        out[f"f_al_score_{mm}"] = float(np.ascontiguousarray(f_al[:, i]).mean())
    out = {key: out[key] for key in OFFICIAL_KEYS}
    out.update(
        pa_mpjpe_mm=out["xyz_al_mean3d"] * 10.0,
        pa_mpvpe_mm=out["mesh_al_mean3d"] * 10.0,
        f5=out["f_al_score_5"],
        f15=out["f_al_score_15"],
        mpjpe_mm=out["xyz_mean3d"] * 10.0,
        mpvpe_mm=out["mesh_mean3d"] * 10.0,
    )
    return out


def _check_shapes(pred: np.ndarray, gt: np.ndarray, what: str) -> None:
    if pred.ndim != 3 or pred.shape[-1] != 3 or pred.shape != gt.shape:
        raise ValueError(
            f"{what}: prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} must both be "
            "(B, N, 3) with the same shape"
        )
