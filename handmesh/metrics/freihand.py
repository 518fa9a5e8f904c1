"""The official FreiHAND evaluation (DESIGN.md §3), vectorised: the same numbers, ~10x faster than the official script.

Errors are Euclidean distances in metres, per point (21 keypoints, 778 vertices) and per sample:
- unaligned: the prediction as given (camera frame); aligned: Procrustes-aligned with scale per sample
  (`handmesh.geometry.procrustes`, reflections allowed, as the official script);
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

Nearest neighbours (the expensive part: 3,960 x 778 x 778 pairs per alignment by brute force) are found
exactly, with pruning: a point whose corresponding point (same index) is already closer than t needs no search;
the others are compared only with the points of the other set that lie in "leaves" (groups of 7 vertex indices,
compact in every hand pose) whose bounding box comes closer than t to the bounding box of the point's own leaf.
Pruning only ever discards pairs that are provably at least t apart, so the result equals brute force whatever
the input; the leaf partition only affects speed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from handmesh.geometry.procrustes import procrustes_transform

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

ArrayLike = Tensor | np.ndarray


def auc_thresholds() -> np.ndarray:
    """The official AUC thresholds `np.linspace(0.0, 0.05, 100)` (metres, float64)."""
    return np.linspace(AUC_MIN, AUC_MAX, AUC_STEPS)


# --------------------------------------------------------------------------------------------------------------
# Per-point errors, mean and AUC


def point_errors(pred: ArrayLike, gt: ArrayLike) -> Tensor:
    """Euclidean distance per point: (B, N, 3), (B, N, 3) -> (B, N) float64, as the official script computes it."""
    return _norm3(_as_f64(gt) - _as_f64(pred))


def mean_error(errors: ArrayLike) -> float:
    """Official mean error (metres): mean over points of the per-point mean over samples. errors: (B, N)."""
    per_point = np.ascontiguousarray(_as_numpy(errors).T).mean(axis=1)  # (N,), each a contiguous pairwise sum
    return float(per_point.mean())


def pck_curves(errors: ArrayLike, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Per-point PCK curves: (N, T) fraction of samples with error <= threshold (inclusive). errors: (B, N)."""
    thr = torch.from_numpy(auc_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64))
    e = _as_f64(errors).cpu()
    b, n = e.shape
    t = thr.numel()
    # bucket k: thr[k-1] < e <= thr[k] (k = T beyond the last threshold), so e <= thr[j] exactly when k <= j
    bucket = torch.bucketize(e, thr, right=False)  # (B, N)
    point = torch.arange(n).expand(b, n)
    hist = torch.bincount((point * (t + 1) + bucket).reshape(-1), minlength=n * (t + 1)).view(n, t + 1)
    return hist[:, :t].cumsum(1).numpy() / float(b)  # integer counts / B, as np.mean of booleans


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


def f_scores(pred_verts: ArrayLike, gt_verts: ArrayLike, thresholds: Sequence[float] = F_THRESHOLDS) -> np.ndarray:
    """Per-sample F-scores (B, len(thresholds)) float64 between predicted and ground-truth point sets.

    pred_verts (B, M, 3), gt_verts (B, N, 3), metres. Computed as the official `calculate_fscore`:
    precision = share of GT points with a prediction closer than t, recall = share of predicted points with a
    GT point closer than t, F = 2 * recall * precision / (recall + precision), 0 when both are 0.
    """
    pred, gt = _as_f64(pred_verts), _as_f64(gt_verts)
    if pred.dim() != 3 or gt.dim() != 3 or pred.shape[0] != gt.shape[0] or pred.shape[-1] != 3 or gt.shape[-1] != 3:
        raise ValueError(f"f_scores: expected (B, M, 3) and (B, N, 3), got {tuple(pred.shape)} and {tuple(gt.shape)}")
    found_gt, found_pred = nearest_within(gt, pred, thresholds)  # (T, B, N), (T, B, M)
    n_gt, n_pred = gt.shape[1], pred.shape[1]
    out = np.zeros((pred.shape[0], len(thresholds)), dtype=np.float64)
    if n_gt == 0 or n_pred == 0:
        return out  # the official script scores an empty set 0
    # counts / lengths, as float(sum(d < th for d in ...)) / float(len(...)): exact
    precision = found_gt.sum(-1).cpu().numpy().astype(np.float64) / float(n_gt)  # (T, B)
    recall = found_pred.sum(-1).cpu().numpy().astype(np.float64) / float(n_pred)
    total = recall + precision
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(total > 0, 2 * recall * precision / total, 0.0)
    return np.ascontiguousarray(f.T)


def nearest_within(a: Tensor, b: Tensor, thresholds: Sequence[float]) -> tuple[Tensor, Tensor]:
    """For every point of `a` (B, N, 3) whether its nearest point of `b` (B, M, 3) (same sample) is closer than
    each threshold (strict `<`), and the same for every point of `b` towards `a`.

    Returns boolean (T, B, N) and (T, B, M), equal to brute force on float64 sqrt((dx^2 + dy^2) + dz^2): the
    search runs in float32, and every point whose float32 nearest distance lies within rounding distance of a
    threshold is decided again in float64 against all points of its sample.
    """
    ts = [float(t) for t in thresholds]
    if any(not (t > 0 and np.isfinite(t)) for t in ts):
        raise ValueError(f"thresholds must be positive and finite, got {thresholds}")
    a, b = _as_f64(a), _as_f64(b)
    dev = a.device
    tt = torch.tensor(ts, dtype=torch.float64, device=dev)[:, None, None]  # (T, 1, 1)
    if a.shape[1] == b.shape[1]:
        # The corresponding point bounds the nearest distance: d(a_i, b_i) < t decides "found" for both.
        done_a = done_b = _norm3(a - b)[None] < tt  # (T, B, N)
    else:
        done_a = torch.zeros((len(ts), *a.shape[:2]), dtype=torch.bool, device=dev)
        done_b = torch.zeros((len(ts), *b.shape[:2]), dtype=torch.bool, device=dev)
    if not ts or a.shape[0] == 0 or a.shape[1] == 0 or b.shape[1] == 0:
        return done_a, done_b
    # float32 copies, centred per sample. tol (B, 1) bounds |float32 distance - float64 distance| (~1e-6 * spread) with
    # a margin, and its 1e-6 * t term keeps the float32 pruning radius (squared, rounded) above every t it covers.
    centre = a.mean(1, keepdim=True)
    a32, b32 = (a - centre).float(), (b - centre).float()
    spread = torch.maximum(a32.abs().amax((1, 2)), b32.abs().amax((1, 2))).double()  # NaN or inf propagate
    if not bool(torch.isfinite(spread).all()):
        raise ValueError("nearest_within: non-finite coordinates")
    tol = (2e-6 * spread + 1e-15 * centre.abs().amax((1, 2)) + 1e-6 * max(ts))[:, None]
    # search radius per point: the largest threshold not decided yet, widened by the rounding bound (0: none)
    need_a = (tt * ~done_a).amax(0)  # (B, N)
    need_b = (tt * ~done_b).amax(0)
    radius_a = torch.where(need_a > 0, need_a + 2 * tol, 0.0)
    radius_b = torch.where(need_b > 0, need_b + 2 * tol, 0.0)
    min_a, min_b = _min_dist_within(a32, b32, radius_a, radius_b)
    found_a = _decide(a, b, min_a.double(), done_a, tt, tol)
    found_b = _decide(b, a, min_b.double(), done_b, tt, tol)
    return found_a, found_b


def _decide(q: Tensor, t: Tensor, min_q: Tensor, done: Tensor, tt: Tensor, tol: Tensor, chunk: int = 4096) -> Tensor:
    """found (T, B, N) from the float32 nearest distances min_q (B, N) of the points q (B, N, 3) to t (B, M, 3);
    points within 2 tol of a threshold they need are settled with the exact float64 distance to all of t."""
    unsure = (~done & ((min_q[None] - tt).abs() <= 2 * tol[None])).any(0)  # (B, N)
    bi, qi = unsure.nonzero(as_tuple=True)
    if bi.numel():
        exact = min_q.clone()
        for s in range(0, bi.numel(), chunk):
            rb, rq = bi[s : s + chunk], qi[s : s + chunk]
            exact[rb, rq] = _norm3(q[rb, rq][:, None, :] - t[rb]).amin(1)  # (R, M) -> (R,)
        min_q = torch.where(unsure, exact, min_q)
    return done | (min_q[None] < tt)


def _min_dist_within(
    a: Tensor, b: Tensor, radius_a: Tensor, radius_b: Tensor, leaf_size: int = 7, samples_per_chunk: int = 32
) -> tuple[Tensor, Tensor]:
    """Nearest-neighbour distances both ways (float32), searched only as far as needed.

    a (B, N, 3), b (B, M, 3) float32; radius_a (B, N), radius_b (B, M) search radii (0: none). Returns (B, N),
    (B, M): the nearest distance among the points of the other set that lie in leaves whose box comes closer
    than the larger radius of the two leaves (inf if none), so exact up to rounding for a point with a neighbour
    within its radius, and >= its radius (up to rounding) otherwise.
    """
    leaves_a = leaf_partition(a, leaf_size)
    leaves_b = leaves_a if b.shape[1] == a.shape[1] else leaf_partition(b, leaf_size)
    r2_a, r2_b = radius_a.square().float(), radius_b.square().float()
    min_a = torch.full(a.shape[:2], torch.inf, dtype=a.dtype, device=a.device)
    min_b = torch.full(b.shape[:2], torch.inf, dtype=a.dtype, device=a.device)
    for s in range(0, a.shape[0], samples_per_chunk):
        sl = slice(s, s + samples_per_chunk)
        _leaf_pairs_min(a[sl], b[sl], r2_a[sl], r2_b[sl], leaves_a, leaves_b, min_a[sl], min_b[sl])
    return min_a, min_b


def _leaf_pairs_min(
    a: Tensor,
    b: Tensor,
    r2_a: Tensor,
    r2_b: Tensor,
    leaves_a: Tensor,
    leaves_b: Tensor,
    min_a: Tensor,
    min_b: Tensor,
) -> None:
    """`_min_dist_within` on one chunk of samples: points a (B, N, 3), b (B, M, 3), squared radii (B, N), (B, M);
    writes the minima into min_a (B, N) and min_b (B, M) (views of the full outputs)."""
    pa, pb = a[:, leaves_a], b[:, leaves_b]  # (B, La, S, 3), (B, Lb, S, 3)
    ra = r2_a[:, leaves_a].amax(2)  # (B, La) squared search radius of each leaf
    rb = r2_b[:, leaves_b].amax(2)  # (B, Lb)
    lo_a, hi_a, lo_b, hi_b = pa.amin(2), pa.amax(2), pb.amin(2), pb.amax(2)  # (B, L, 3)
    gap2 = None  # (B, La, Lb) squared distance between the leaf boxes
    for ax in range(3):
        g = torch.maximum(lo_a[:, :, None, ax] - hi_b[:, None, :, ax], lo_b[:, None, :, ax] - hi_a[:, :, None, ax])
        g = g.clamp_min_(0).square_()
        gap2 = g if gap2 is None else gap2.add_(g)
    s_idx, la, lb = (gap2 < torch.maximum(ra[:, :, None], rb[:, None, :])).nonzero(as_tuple=True)  # (K,)
    if s_idx.numel() == 0:
        return
    rows_a = pa.flatten(0, 1).index_select(0, s_idx * pa.shape[1] + la)  # (K, Sa, 3)
    rows_b = pb.flatten(0, 1).index_select(0, s_idx * pb.shape[1] + lb)  # (K, Sb, 3)
    d = torch.cdist(rows_a, rows_b, compute_mode="donot_use_mm_for_euclid_dist")  # (K, Sa, Sb)
    # scatter the pair minima back to points: flat index sample * N + point
    idx_a = (s_idx[:, None] * min_a.shape[1] + leaves_a[la]).flatten()  # (K * Sa,)
    idx_b = (s_idx[:, None] * min_b.shape[1] + leaves_b[lb]).flatten()
    min_a.view(-1).scatter_reduce_(0, idx_a, d.amin(2).flatten(), "amin")
    min_b.view(-1).scatter_reduce_(0, idx_b, d.amin(1).flatten(), "amin")


def leaf_partition(x: Tensor, leaf_size: int = 7, n_samples: int = 32) -> Tensor:
    """Partition the point indices of x (B, N, 3) into leaves of `leaf_size` points that are spatially compact in
    up to `n_samples` samples at once (k-d splits on the widest coordinate of the stacked, centred samples).

    Returns (L, leaf_size) long indices; the last slots of a short leaf repeat its own points. Any partition
    gives the same search result; a compact one makes the search fast.
    """
    bs, n, _ = x.shape
    pick = torch.linspace(0, bs - 1, min(bs, n_samples)).round().long().unique().to(x.device)
    feats = x[pick].to(torch.float64)
    feats = (feats - feats.mean(1, keepdim=True)).permute(1, 0, 2).reshape(n, -1).cpu().numpy()  # (N, 3 * S)
    feats = np.where(np.isfinite(feats), feats, 0.0)
    leaves: list[np.ndarray] = []
    stack = [np.arange(n)]
    while stack:
        group = stack.pop()
        if len(group) <= leaf_size:
            leaves.append(group)
            continue
        f = feats[group]
        order = group[np.argsort(f[:, int(np.argmax(f.max(0) - f.min(0)))], kind="stable")]
        cut = leaf_size * ((len(group) + 2 * leaf_size - 1) // (2 * leaf_size))  # a multiple of leaf_size
        stack += [order[cut:], order[:cut]]
    index = np.stack([np.resize(g, leaf_size) for g in leaves])  # np.resize repeats the leaf's own points
    return torch.from_numpy(index).to(x.device)


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
    pred_xyz, pred_verts, gt_xyz, gt_verts = (_as_f64(x) for x in (pred_xyz, pred_verts, gt_xyz, gt_verts))
    _check_shapes(pred_xyz, gt_xyz, "keypoints")
    _check_shapes(pred_verts, gt_verts, "vertices")
    if pred_xyz.shape[0] != pred_verts.shape[0]:
        raise ValueError(f"{pred_xyz.shape[0]} keypoint samples but {pred_verts.shape[0]} vertex samples")
    if pred_xyz.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    for name, x in (("pred_xyz", pred_xyz), ("pred_verts", pred_verts), ("gt_xyz", gt_xyz), ("gt_verts", gt_verts)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} holds non-finite values (NaN or inf)")
    verts_al = procrustes_transform(pred_verts, gt_verts).apply(pred_verts)
    errors = {
        "xyz": point_errors(pred_xyz, gt_xyz),
        "xyz_al": point_errors(procrustes_transform(pred_xyz, gt_xyz).apply(pred_xyz), gt_xyz),
        "mesh": point_errors(pred_verts, gt_verts),
        "mesh_al": point_errors(verts_al, gt_verts),
    }
    out: dict[str, float] = {}
    for name, err in errors.items():
        err_np = _as_numpy(err)
        out[f"{name}_mean3d"] = mean_error(err_np) * 100.0  # cm, as the official script writes
        out[f"{name}_auc3d"] = auc(err_np)
    f = f_scores(pred_verts, gt_verts, F_THRESHOLDS)  # (B, T)
    f_al = f_scores(verts_al, gt_verts, F_THRESHOLDS)
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


def _check_shapes(pred: Tensor, gt: Tensor, what: str) -> None:
    if pred.dim() != 3 or pred.shape[-1] != 3 or pred.shape != gt.shape:
        raise ValueError(
            f"{what}: prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} must both be "
            "(B, N, 3) with the same shape"
        )


def _as_f64(x: ArrayLike) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach().to(torch.float64)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def _as_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _norm3(d: Tensor) -> Tensor:
    """sqrt((dx^2 + dy^2) + dz^2), the official script's rounding (numpy sum over 3, open3d's KD-tree)."""
    return torch.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
