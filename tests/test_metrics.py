"""The FreiHAND numbers (DESIGN.md §3): F-score at the threshold, AUC, and the whole table against a slow,
loop-based reference written here straight from the definition."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmesh.metrics.arrays import all_finite
from handmesh.metrics.freihand import (
    ALL_KEYS,
    OFFICIAL_KEYS,
    auc,
    f_scores,
    freihand_scores,
    mean_error,
    pck_curves,
)
from handmesh.metrics.nearest import count_within, nearest_within

THRESHOLDS = np.linspace(0.0, 0.05, 100)


# ---------------------------------------------------------------------------------------------------------------
# The reference: one sample at a time, numpy and scipy, as DESIGN.md §3 states it


def _ref_align(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    mu_g, mu_p = gt.mean(0), pred.mean(0)
    a, b = gt - mu_g, pred - mu_p
    na, nb = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    r, s = orthogonal_procrustes(a / na, b / nb)  # R = U V^T of svd(A^T B), s = trace(S), no det correction
    return np.dot(b / nb, r.T) * s * na + mu_g


def _ref_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(np.square(a - b), axis=-1))


def _ref_fscore(gt: np.ndarray, pred: np.ndarray, t: float) -> float:
    all_pairs = _ref_dist(gt[:, None, :], pred[None, :, :])  # (N, M)
    precision = float(sum(d < t for d in all_pairs.min(1))) / len(gt)  # GT points with a prediction closer than t
    recall = float(sum(d < t for d in all_pairs.min(0))) / len(pred)
    return 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0


def _ref_mean_auc(per_point: list[list[float]]) -> tuple[float, float]:
    means, aucs = [], []
    norm = np.trapezoid(np.ones_like(THRESHOLDS), THRESHOLDS)
    for data in per_point:
        data = np.array(data)
        means.append(np.mean(data))
        pck = np.array([np.mean((data <= t).astype(float)) for t in THRESHOLDS])
        aucs.append(np.trapezoid(pck, THRESHOLDS) / norm)
    return float(np.mean(means)), float(np.mean(aucs))


def _reference_table(pred_xyz, pred_verts, gt_xyz, gt_verts) -> dict[str, float]:
    errs: dict[str, list[list[float]]] = {k: [[] for _ in range(n)] for k, n in
                                           (("xyz", 21), ("xyz_al", 21), ("mesh", 778), ("mesh_al", 778))}  # fmt: skip
    f, f_al = [], []
    for i in range(len(gt_xyz)):
        xyz_al = _ref_align(gt_xyz[i], pred_xyz[i])
        verts_al = _ref_align(gt_verts[i], pred_verts[i])
        for key, gt, pred in (("xyz", gt_xyz[i], pred_xyz[i]), ("xyz_al", gt_xyz[i], xyz_al),
                              ("mesh", gt_verts[i], pred_verts[i]), ("mesh_al", gt_verts[i], verts_al)):  # fmt: skip
            for j, d in enumerate(_ref_dist(gt, pred)):
                errs[key][j].append(d)
        f.append([_ref_fscore(gt_verts[i], pred_verts[i], t) for t in (0.005, 0.015)])
        f_al.append([_ref_fscore(gt_verts[i], verts_al, t) for t in (0.005, 0.015)])
    out = {}
    for key, per_point in errs.items():
        out[f"{key}_mean3d"], out[f"{key}_auc3d"] = _ref_mean_auc(per_point)
        out[f"{key}_mean3d"] *= 100.0
    f, f_al = np.array(f).T, np.array(f_al).T
    out.update(f_score_5=f[0].mean(), f_al_score_5=f_al[0].mean(), f_score_15=f[1].mean(), f_al_score_15=f_al[1].mean())
    return out


def _hands(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Hand-sized clouds (778 vertices, 21 keypoints) in front of the camera and noisy predictions of them; some
    samples on a 1/4096 m lattice with prediction offsets exactly at the thresholds."""
    rng = np.random.default_rng(seed)
    template = rng.normal(size=(799, 3)) * np.array([0.03, 0.05, 0.012])
    rot = Rotation.random(n, random_state=seed).as_matrix()
    gt = template @ rot.transpose(0, 2, 1) + np.array([0.0, 0.0, 0.7]) + rng.normal(0, 0.05, (n, 1, 3))
    pred = gt @ Rotation.from_rotvec(rng.normal(0, 0.05, (n, 3))).as_matrix().transpose(0, 2, 1)
    pred = pred * rng.uniform(0.95, 1.05, (n, 1, 1)) + rng.normal(0, 0.003, gt.shape) + rng.normal(0, 0.01, (n, 1, 3))
    lattice = slice(0, n // 3)
    gt[lattice] = np.round(gt[lattice] * 4096) / 4096
    offsets = rng.choice([0.005, 0.015, THRESHOLDS[7], THRESHOLDS[40], 0.0], size=(n // 3, 799))
    pred[lattice] = gt[lattice]
    pred[lattice, :, 0] += offsets
    return pred[:, :21], pred[:, 21:], gt[:, :21], gt[:, 21:]


# ---------------------------------------------------------------------------------------------------------------


def test_whole_table_equals_the_loop_reference() -> None:
    pred_xyz, pred_verts, gt_xyz, gt_verts = _hands(12)
    ours = freihand_scores(pred_xyz, pred_verts, gt_xyz, gt_verts)
    ref = _reference_table(pred_xyz, pred_verts, gt_xyz, gt_verts)
    assert set(ours) == set(ALL_KEYS) and list(ours)[:12] == list(OFFICIAL_KEYS)
    for key in OFFICIAL_KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
        assert f"{ours[key]:f}" == f"{ref[key]:f}", key  # what the official script writes
    assert ours["f_score_5"] == ref["f_score_5"] and ours["f_al_score_15"] == ref["f_al_score_15"]
    assert ours["pa_mpjpe_mm"] == pytest.approx(ref["xyz_al_mean3d"] * 10)
    assert ours["pa_mpvpe_mm"] == pytest.approx(ref["mesh_al_mean3d"] * 10)
    assert ours["mpvpe_mm"] == pytest.approx(ref["mesh_mean3d"] * 10)
    assert (ours["f5"], ours["f15"]) == (ours["f_al_score_5"], ours["f_al_score_15"])
    # torch input (float32 on the way in is widened, not rounded further) gives the same table
    again = freihand_scores(*(torch.from_numpy(x) for x in (pred_xyz, pred_verts, gt_xyz, gt_verts)))
    assert again == ours


def test_nearest_neighbour_search_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    gt = torch.from_numpy(rng.normal(size=(5, 300, 3)) * 0.02)
    for pred in (
        gt + torch.from_numpy(rng.normal(size=gt.shape) * 0.006),  # same count: correspondence shortcut
        torch.from_numpy(rng.normal(size=(5, 123, 3)) * 0.02),  # different count
        gt + 0.5,
    ):  # nothing close
        found_gt, found_pred = nearest_within(gt, pred, (0.005, 0.015, 0.001))
        count_gt, count_pred = count_within(gt, pred, (0.005, 0.015, 0.001))
        d = torch.sqrt(((gt[:, :, None] - pred[:, None]) ** 2).sum(-1))  # (B, N, M)
        for k, t in enumerate((0.005, 0.015, 0.001)):
            np.testing.assert_array_equal(found_gt[k], (d.amin(2) < t).numpy())
            np.testing.assert_array_equal(found_pred[k], (d.amin(1) < t).numpy())
            np.testing.assert_array_equal(count_gt[k], (d.amin(2) < t).sum(1).numpy())
            np.testing.assert_array_equal(count_pred[k], (d.amin(1) < t).sum(1).numpy())
    # tiny clouds, clouds far from the origin, thresholds exactly at and a hair above a nearest distance
    for scale, offset in ((1e-4, 0.0), (0.02, 100.0)):
        gt = torch.from_numpy(rng.normal(size=(3, 200, 3)) * scale + offset)
        pred = gt + torch.from_numpy(rng.normal(size=gt.shape) * scale)
        d = torch.sqrt(((gt[:, :, None] - pred[:, None]) ** 2).sum(-1))
        ts = [float(d.amin(2)[0, 0]), float(np.nextafter(float(d.amin(1)[1, 3]), 1.0)), scale]  # exactly at, just above
        found_gt, found_pred = nearest_within(gt, pred, ts)
        for k, t in enumerate(ts):
            np.testing.assert_array_equal(found_gt[k], (d.amin(2) < t).numpy())
            np.testing.assert_array_equal(found_pred[k], (d.amin(1) < t).numpy())


def test_search_equals_brute_force_at_exact_ties_without_correspondence() -> None:
    """Vertex-correspondence clouds on a 2^-12 m lattice, offsets exactly at dyadic thresholds (so the distances
    equal t exactly), some correspondences scrambled or shifted so that points are not settled by their
    counterpart and need the full search: the brute-force booleans and the reference F-scores."""
    rng = np.random.default_rng(11)
    t1, t2 = 5 / 1024, 15 / 1024  # exactly representable, and so are lattice points plus these offsets
    gt = np.round(rng.normal(size=(6, 300, 3)) * 0.08 * 4096) / 4096 + np.array([0.0, 0.0, 0.5])
    offsets = rng.choice([0.0, t1, t2, t1 - 2**-12, t2 + 2**-12, 0.05], size=gt.shape[:2])
    pred = gt.copy()
    axis = rng.integers(0, 3, size=gt.shape[:2])
    np.put_along_axis(pred, axis[..., None], np.take_along_axis(gt, axis[..., None], 2) + offsets[..., None], 2)
    for s in (0, 1, 2):  # scramble 30 % of the correspondences
        sel = rng.choice(300, 90, replace=False)
        pred[s, sel] = pred[s, np.roll(sel, 1)]
    pred[3] += 2 * t2  # the same cloud shifted: no counterpart is a witness
    pred[5] = pred[5, rng.permutation(300)]  # no correspondence at all
    d = np.sqrt(np.sum(np.square(gt[:, :, None] - pred[:, None]), axis=-1))  # (B, N, M), as the official script
    assert (d.min(2) == t1).sum() > 100 and (d.min(1) == t2).sum() > 100  # many exact ties both ways
    same = np.sqrt(np.sum(np.square(gt - pred), axis=-1))
    assert ((d.min(2) < t1) & (same >= t1)).sum() > 100  # found, but not through the counterpart
    found_gt, found_pred = nearest_within(torch.from_numpy(gt), torch.from_numpy(pred), (t1, t2))
    for k, t in enumerate((t1, t2)):
        np.testing.assert_array_equal(found_gt[k], d.min(2) < t)
        np.testing.assert_array_equal(found_pred[k], d.min(1) < t)
    ref = np.array([[_ref_fscore(gt[i], pred[i], t) for t in (t1, t2)] for i in range(6)])
    np.testing.assert_array_equal(f_scores(pred, gt, (t1, t2)), ref)


def test_f_score_counts_strictly_below_the_threshold() -> None:
    gt = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    pred = np.array([[[0.005, 0.0, 0.0], [1.0, 0.004, 0.0], [0.0, 1.0, -0.0049]]])
    assert np.sqrt(0.005**2) == 0.005  # the first pair is exactly at the threshold
    np.testing.assert_array_equal(f_scores(pred, gt, (0.005,)), [[2 / 3]])  # the pair at 5 mm does not count
    np.testing.assert_array_equal(f_scores(pred, gt, (np.nextafter(0.005, 1),)), [[1.0]])
    np.testing.assert_array_equal(f_scores(pred, gt, (0.004,)), [[0.0]])  # P = R = 0 -> F = 0
    # precision and recall differ when the sets differ in size: 1 of 3 GT points and 1 of 1 predictions matched
    f = f_scores(np.array([[[0.0, 0.001, 0.0]]]), gt, (0.005,))
    np.testing.assert_allclose(f, [[2 * 1 * (1 / 3) / (1 + 1 / 3)]], rtol=0, atol=0)


def test_auc_on_a_known_error_distribution() -> None:
    # every error exactly at threshold j: PCK = 1 from t_j on (inclusive), so AUC = (99 - j + 0.5) / 99
    for j in (0, 10, 57, 99):
        errors = np.full((7, 3), THRESHOLDS[j])
        assert auc(errors) == pytest.approx((99 - j + 0.5) / 99 if j > 0 else 1.0, abs=1e-15)
    # half the samples perfect, half beyond 5 cm: PCK = 0.5 everywhere
    errors = np.concatenate([np.zeros((4, 2)), np.full((4, 2), 0.2)])
    assert auc(errors) == pytest.approx(0.5, abs=1e-15)
    # uniform errors on [0, 5 cm]: PCK(t) ~ t / 5 cm, AUC ~ 0.5
    errors = np.linspace(0, 0.05, 100_001)[:, None]
    assert auc(errors) == pytest.approx(0.5, abs=1e-4)
    curve = pck_curves(np.array([[0.0, 0.01], [0.02, 0.06]]))
    assert curve.shape == (2, 100) and curve[0, 0] == 0.5 and curve[0, -1] == 1.0  # point 0: errors 0, 2 cm
    assert curve[1, 0] == 0.0 and curve[1, -1] == 0.5  # point 1: errors 1 cm, 6 cm


def test_pck_curves_equal_counting_at_and_between_thresholds() -> None:
    """Errors exactly at, a hair around, between and beyond the thresholds (even and uneven spacing), and NaN."""
    rng = np.random.default_rng(4)
    for thr in (THRESHOLDS, np.array([0.0, 0.001, 0.0011, 0.02, 0.05]), np.array([0.01])):
        picks = rng.choice(thr, size=(50, 6))
        errors = np.where(rng.random((50, 6)) < 0.5, picks, rng.uniform(-0.01, 0.07, (50, 6)))
        errors[::7, 1] = np.nextafter(errors[::7, 1], np.inf)
        errors[::5, 2] = np.nextafter(errors[::5, 2], -np.inf)
        errors[3, 4], errors[8, 5] = np.nan, np.inf
        expected = np.stack([(errors <= t).mean(0) for t in thr], 1)  # (N, T), as np.mean of booleans
        np.testing.assert_array_equal(pck_curves(errors, thr), expected)
    with pytest.raises(ValueError, match="increasing"):
        pck_curves(np.zeros((2, 3)), np.array([0.02, 0.01]))


def test_mean_error_is_the_mean_of_per_point_means() -> None:
    errors = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert mean_error(errors) == 3.0


def test_input_errors() -> None:
    x, v = np.zeros((2, 21, 3)), np.zeros((2, 778, 3))
    with pytest.raises(ValueError, match="keypoints"):
        freihand_scores(x[:, :20], v, x, v)
    with pytest.raises(ValueError, match="vertex samples"):
        freihand_scores(x, v[:1], x, v[:1])
    with pytest.raises(ValueError, match="no samples"):
        freihand_scores(x[:0], v[:0], x[:0], v[:0])
    bad = v.copy()
    bad[1, 5, 2] = np.nan
    with pytest.raises(ValueError, match="pred_verts holds non-finite"):
        freihand_scores(x, bad, x, v)


def test_search_with_outliers_far_apart_equals_brute_force() -> None:
    """A prediction with a few vertices kilometres away makes the grid coarser than the thresholds; still exact."""
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(4, 200, 3)) * 0.03 + np.array([0.0, 0.0, 0.6])
    pred = gt + rng.normal(size=gt.shape) * 0.004
    pred[:, :3] += np.array([2000.0, -1500.0, 800.0])  # outliers: a grid at the threshold's width would be huge
    pred[1] = pred[1, rng.permutation(200)]  # no correspondence in this sample
    found_gt, found_pred = nearest_within(gt, pred, (0.005, 0.015))
    d = np.sqrt(np.sum(np.square(gt[:, :, None] - pred[:, None]), axis=-1))
    for k, t in enumerate((0.005, 0.015)):
        np.testing.assert_array_equal(found_gt[k], d.min(2) < t)
        np.testing.assert_array_equal(found_pred[k], d.min(1) < t)


def test_finite_check_is_not_fooled_by_an_overflowing_sum() -> None:
    assert all_finite(np.full((4, 3), 1e308))  # the sum overflows, the values are finite
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros((5, 3))
        x[2, 1] = bad
        assert not all_finite(x)
    assert not all_finite(np.array([np.inf, -np.inf]))  # the sum is NaN


def test_compiled_kernels_under_numba_bounds_checking(tmp_path: Path) -> None:
    """The search and histogram tests pass again with the kernels rebuilt with numba's index checks: no read or
    write outside an array, whatever the inputs (thresholds wider than half a cell, outliers, unequal sizes)."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    selection = "brute_force or pck_curves or whole_table or auc"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", selection]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "IndexError" not in proc.stdout
