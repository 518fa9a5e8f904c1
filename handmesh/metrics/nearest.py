"""Exact nearest-neighbour decisions for the F-scores: is the nearest point of the other set closer than t?

The F-score needs, for every vertex of a sample, whether its nearest neighbour among the other sample's vertices
is closer than 5 mm and than 15 mm, both ways. Brute force is 3,960 x 778 x 778 pairs per alignment. Here both
point sets of a sample are sorted into one uniform grid whose cells are a little wider than the largest
threshold, so a point's neighbours closer than that all lie in the 3 x 3 x 3 cells around its own cell, and each
occupied cell keeps the bounding box of its points. A query:

- starts from the distance to its corresponding point (same index) when both sets have the same size, which
  often decides every threshold at once;
- else visits nearby occupied cells (for the largest threshold, all occupied neighbours, listed once per cell;
  for a smaller one, only its own cell and the neighbours its box `q +- t` crosses into), skips each cell whose
  box is not closer than the largest undecided threshold, and stops as soon as every threshold is decided.

Every distance computed is also an upper bound for the other point's nearest distance, which settles many
points of the second direction early.

The search is exact: distances are float64 `sqrt((dx^2 + dy^2) + dz^2)` on the original coordinates, the value
the official script's KD-tree (open3d) compares with `< t`. A cell is skipped only when the distance to its box,
computed with the same operations, is not below t; rounding is monotone, so no point in the box is closer. The
kernels are compiled with numba (cached on disk after the first run) and release the GIL, so chunks of samples
run in parallel threads.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from handmesh.metrics.arrays import ArrayLike, all_finite, as_float64

_CELL_MARGIN = 1e-6  # cells are this much (relative) wider than the largest threshold: rounding can't hide a pair
_MAX_CELLS_PER_POINT = 4  # the grid grows coarser (cells twice as wide) until it has at most ~4 cells per point
_BOX_MARGIN = 1e-9  # a cell is skipped when its box is this much (relative) beyond the threshold


def nearest_within(
    a: ArrayLike,
    b: ArrayLike,
    thresholds: Sequence[float],
    threads: int | None = None,
    check_finite: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """For every point of `a` (B, N, 3) whether its nearest point of `b` (B, M, 3) (same sample) is closer than
    each threshold (strict `<`), and the same for every point of `b` towards `a`.

    Returns boolean arrays (T, B, N) and (T, B, M), equal to brute force on float64 sqrt((dx^2 + dy^2) + dz^2).
    threads: worker threads (default: torch's intra-op thread count if torch is loaded, else the usable cores).
    check_finite: refuse NaN or inf coordinates (skip only for inputs already checked: the search is undefined
    for them).
    """
    ts, near_a, near_b = _decide(a, b, thresholds, threads, check_finite)
    found_a = np.sqrt(near_a)[None] < ts[:, None, None]  # (T, B, N)
    found_b = np.sqrt(near_b)[None] < ts[:, None, None]  # (T, B, M)
    return found_a, found_b


def count_within(
    a: ArrayLike,
    b: ArrayLike,
    thresholds: Sequence[float],
    threads: int | None = None,
    check_finite: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, how many points of `a` have a point of `b` closer than each threshold, and how many points of
    `b` have one of `a`: int64 (T, B) each, the sums of `nearest_within`'s masks without building them."""
    ts, near_a, near_b = _decide(a, b, thresholds, threads, check_finite)
    return _count_below(near_a, ts), _count_below(near_b, ts)


def _decide(
    a: ArrayLike,
    b: ArrayLike,
    thresholds: Sequence[float],
    threads: int | None,
    check_finite: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate, search, and return the thresholds (T,) and squared distances near_a (B, N), near_b (B, M) with
    sqrt(near) < t exactly when the point's nearest neighbour is closer than t, for every threshold t."""
    ts = np.asarray([float(t) for t in thresholds], dtype=np.float64)
    if not np.all((ts > 0) & np.isfinite(ts)):
        raise ValueError(f"thresholds must be positive and finite, got {list(thresholds)}")
    a64, b64 = as_float64(a), as_float64(b)
    if a64.ndim != 3 or b64.ndim != 3 or a64.shape[0] != b64.shape[0] or a64.shape[2] != 3 or b64.shape[2] != 3:
        raise ValueError(f"nearest neighbours: expected (B, N, 3) and (B, M, 3), got {a64.shape} and {b64.shape}")
    if check_finite and not (all_finite(a64) and all_finite(b64)):
        raise ValueError("nearest neighbours: non-finite coordinates")
    near_a = np.full(a64.shape[:2], np.inf)
    near_b = np.full(b64.shape[:2], np.inf)
    if ts.size and a64.shape[1] and b64.shape[1]:
        _run_chunks(a64, b64, np.sort(ts), near_a, near_b, threads or _default_threads())
    return ts, near_a, near_b


def _default_threads() -> int:
    """torch's intra-op thread count when torch is loaded (it honours torch.set_num_threads), else the cores
    this process may use; torch itself is not imported for this."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.get_num_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_chunks(a: np.ndarray, b: np.ndarray, ts: np.ndarray, near_a: np.ndarray, near_b: np.ndarray, threads: int):
    """Split the samples into chunks and search them on `threads` threads (the kernel releases the GIL)."""
    n = a.shape[0]
    threads = max(1, min(threads, os.cpu_count() or 1, n))
    bounds = np.linspace(0, n, min(n, 4 * threads) + 1).astype(np.int64)
    chunks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    if threads == 1:
        for s0, s1 in chunks:
            _search_samples(a, b, ts, near_a, near_b, s0, s1)
        return
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda c: _search_samples(a, b, ts, near_a, near_b, c[0], c[1]), chunks):
            pass


# ------------------------------------------------------------------------------------------------------------------
# numba kernels (squared distances throughout; sqrt only where a threshold is compared, as the official script)


@numba.njit(cache=True, nogil=True)
def _count_below(near, ts):  # pragma: no cover - compiled
    """counts[k, s]: points of sample s with sqrt(near) < ts[k]. near: (B, N) squared distances -> (T, B) int64.

    The squares of the thresholds, widened by 1e-9 either way, settle all but a hair-thin band without a sqrt.
    """
    counts = np.zeros((ts.shape[0], near.shape[0]), np.int64)
    below2 = (ts * (1.0 - 1e-9)) ** 2  # d2 < below2[k]: surely sqrt(d2) < ts[k]
    above2 = (ts * (1.0 + 1e-9)) ** 2  # d2 > above2[k]: surely not
    for s in range(near.shape[0]):
        for k in range(ts.shape[0]):
            n = 0
            for i in range(near.shape[1]):
                d2 = near[s, i]
                met = d2 < below2[k]
                if not met and d2 <= above2[k]:  # rare: within 1e-9 of the threshold
                    met = math.sqrt(d2) < ts[k]
                n += met  # no branch on the (unpredictable) outcome
            counts[k, s] = n
    return counts


@numba.njit(cache=True, nogil=True)
def _search_samples(a, b, ts, near_a, near_b, s0, s1):  # pragma: no cover - compiled
    """Samples s0..s1-1: seed with the corresponding point (same index) when N == M, then search both ways."""
    for s in range(s0, s1):
        if a.shape[1] == b.shape[1]:
            for i in range(a.shape[1]):
                dx = a[s, i, 0] - b[s, i, 0]
                dy = a[s, i, 1] - b[s, i, 1]
                dz = a[s, i, 2] - b[s, i, 2]
                d2 = (dx * dx + dy * dy) + dz * dz
                near_a[s, i] = min(near_a[s, i], d2)
                near_b[s, i] = min(near_b[s, i], d2)
        _search_sample(a[s], b[s], ts, near_a[s], near_b[s])


@numba.njit(cache=True, nogil=True)
def _search_sample(a, b, ts, near_a, near_b):  # pragma: no cover - compiled
    """Lower near_a (N,) and near_b (M,) (squared) until they decide every threshold, one sample: one grid for
    both sets, then a pass of a's points against b's grid and one of b's against a's."""
    lo = a[0].copy()  # the bounding box of both sets
    hi = a[0].copy()
    _extend_box(a, lo, hi)
    _extend_box(b, lo, hi)
    big = max(abs(lo[0]), abs(lo[1]), abs(lo[2]), abs(hi[0]), abs(hi[1]), abs(hi[2]))
    # cell width > the largest threshold, with room for the rounding of (x - origin) / h at this coordinate size
    h = ts[ts.shape[0] - 1] * (1.0 + _CELL_MARGIN) + 1e-12 * big
    dims = np.empty(3, np.int64)
    while True:  # one empty cell on each side, so every occupied cell has all 26 neighbours
        span = max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / h
        if span < 1e6:
            for k in range(3):
                dims[k] = int((hi[k] - lo[k]) / h) + 3
            if dims[0] * dims[1] * dims[2] <= _MAX_CELLS_PER_POINT * (a.shape[0] + b.shape[0]) + 512:
                break
        h *= 2.0
    origin = lo - h
    a_start, a_pts, a_order, a_box, a_cells = _grid(a, origin, 1.0 / h, dims)
    b_start, b_pts, b_order, b_box, b_cells = _grid(b, origin, 1.0 / h, dims)
    a_near, b_near = _gather(near_a, a_order), _gather(near_b, b_order)  # bounds in cell order, written back
    reach2 = np.empty(ts.shape[0])  # a box at squared distance >= reach2[k] holds no point closer than ts[k]
    for k in range(ts.shape[0]):
        reach2[k] = (ts[k] * (1.0 + _BOX_MARGIN)) ** 2
    pad = _CELL_MARGIN * ts[0] + 1e-12 * big  # widens each query box by more than any rounding of the cells
    grid = (dims, origin, h, ts, reach2, pad)
    _pass(a_cells, a_start, a_pts, a_near, b_start, b_pts, b_box, b_near, grid)
    _pass(b_cells, b_start, b_pts, b_near, a_start, a_pts, a_box, a_near, grid)
    for r in range(a_order.shape[0]):
        near_a[a_order[r]] = a_near[r]
    for r in range(b_order.shape[0]):
        near_b[b_order[r]] = b_near[r]


@numba.njit(cache=True, nogil=True)
def _extend_box(points, lo, hi):  # pragma: no cover - compiled
    """Grow the box lo..hi (3,) to hold points (M, 3)."""
    for j in range(points.shape[0]):
        for k in range(3):
            lo[k] = min(lo[k], points[j, k])
            hi[k] = max(hi[k], points[j, k])


@numba.njit(cache=True, nogil=True)
def _gather(values, order):  # pragma: no cover - compiled
    """values[order] (1-D), as a loop: numba's fancy indexing costs seconds of compile time."""
    out = np.empty(order.shape[0])
    for r in range(order.shape[0]):
        out[r] = values[order[r]]
    return out


@numba.njit(cache=True, nogil=True)
def _grid(points, origin, inv_h, dims):  # pragma: no cover - compiled
    """Counting sort of points (M, 3) into the grid: start (cells + 1,), the points in cell order (M, 3), their
    original indices (M,), each occupied cell's bounding box (M, 6) as (min xyz, max xyz) stored at the row of
    its first point, and the occupied cells."""
    m = points.shape[0]
    n_cells = dims[0] * dims[1] * dims[2]
    cell = np.empty(m, np.int64)
    start = np.zeros(n_cells + 1, np.int64)
    for j in range(m):
        # int() truncates: floor for the positive values inside the grid; rounding below 1 is clamped to 1 anyway
        cx = min(max(int((points[j, 0] - origin[0]) * inv_h), 1), dims[0] - 2)
        cy = min(max(int((points[j, 1] - origin[1]) * inv_h), 1), dims[1] - 2)
        cz = min(max(int((points[j, 2] - origin[2]) * inv_h), 1), dims[2] - 2)
        cell[j] = (cx * dims[1] + cy) * dims[2] + cz
        start[cell[j] + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    order = np.empty(m, np.int64)
    pts = np.empty((m, 3))
    box = np.empty((m, 6))  # stored at the row of the cell's first point: small, whatever the number of cells
    occupied = np.empty(m, np.int64)
    n_occupied = 0
    fill = start[:-1].copy()
    for j in range(m):
        c = cell[j]
        r, f = fill[c], start[c]
        fill[c] += 1
        order[r] = j
        if r == f:  # the cell's first point
            occupied[n_occupied] = c
            n_occupied += 1
            for k in range(3):
                box[f, k] = box[f, 3 + k] = pts[r, k] = points[j, k]
        else:
            for k in range(3):
                x = pts[r, k] = points[j, k]
                box[f, k] = min(box[f, k], x)
                box[f, 3 + k] = max(box[f, 3 + k], x)
    occupied = occupied[:n_occupied]
    return start, pts, order, box, occupied


@numba.njit(cache=True, nogil=True)
def _pass(q_cells, q_start, q_pts, q_near, p_start, p_pts, p_box, p_near, grid):  # pragma: no cover - compiled
    """Lower q_near[r] (squared, cell order) until it decides every threshold for query q_pts[r] against the
    points p_pts; every distance computed also lowers p_near for that point.

    On return, for every threshold t: sqrt(q_near[r]) < t exactly when the query's nearest point is closer than t.
    """
    dims, origin, h, ts, reach2, pad = grid
    ts2_lo = (ts[0] * (1.0 - 1e-9)) ** 2  # below this, every threshold is met without a sqrt
    top = ts.shape[0] - 1
    near_cells = np.empty(27, np.int64)
    crossed = np.empty(27, np.int64)
    for c in q_cells:
        cxyz = (c // (dims[1] * dims[2]), c // dims[2] % dims[1], c % dims[2])
        n_near = -1  # built when a query of this cell first needs it
        for r in range(q_start[c], q_start[c + 1]):
            level = _undecided(q_near[r], ts, ts2_lo)
            if level < 0:
                continue
            if level == top:  # the largest threshold: all occupied neighbours, listed once per cell
                if n_near < 0:
                    n_near = _occupied(cxyz, (-1, -1, -1), (1, 1, 1), dims, p_start, near_cells)
                cells, n = near_cells, n_near
            else:  # a smaller one: the cell itself and, per axis, the neighbour the box q +- t crosses into
                first, last = _crossed(q_pts[r], ts[level] + pad, cxyz, origin, h)
                cells, n = crossed, _occupied(cxyz, first, last, dims, p_start, crossed)
            q = (q_pts[r, 0], q_pts[r, 1], q_pts[r, 2])
            best = q_near[r]
            for k in range(n):
                if _box_d2(q, p_box, p_start[cells[k]]) < reach2[level]:
                    found = _scan(q, cells[k], p_start, p_pts, p_near)
                    if found < best:
                        best = found
                        level = _undecided(best, ts, ts2_lo)
                        if level < 0:
                            break
            q_near[r] = best


@numba.njit(cache=True, nogil=True, inline="always")
def _crossed(q, rad, cxyz, origin, h):  # pragma: no cover - compiled
    """Per axis, the neighbour offsets (-1 or 0, 0 or 1) that the box q +- rad reaches from q's cell (rad < h)."""
    lo = (origin[0] + cxyz[0] * h, origin[1] + cxyz[1] * h, origin[2] + cxyz[2] * h)  # the cell's low corner
    first = (-int(q[0] - rad < lo[0]), -int(q[1] - rad < lo[1]), -int(q[2] - rad < lo[2]))
    last = (int(q[0] + rad >= lo[0] + h), int(q[1] + rad >= lo[1] + h), int(q[2] + rad >= lo[2] + h))
    return first, last


@numba.njit(cache=True, nogil=True)
def _occupied(cxyz, first, last, dims, p_start, out):  # pragma: no cover - compiled
    """The occupied cells at offsets first..last (per axis, within -1..1) from cell cxyz: their count, in `out`."""
    n = 0
    for ox in range(first[0], last[0] + 1):
        for oy in range(first[1], last[1] + 1):
            for oz in range(first[2], last[2] + 1):
                c2 = ((cxyz[0] + ox) * dims[1] + cxyz[1] + oy) * dims[2] + cxyz[2] + oz
                if p_start[c2 + 1] > p_start[c2]:
                    out[n] = c2
                    n += 1
    return n


@numba.njit(cache=True, nogil=True, inline="always")
def _box_d2(q, box, f):  # pragma: no cover - compiled
    """Squared distance from query q (3,) to the box of the cell whose first point is f: a lower bound of its
    squared distance to every point in the cell."""
    gx = max(box[f, 0] - q[0], q[0] - box[f, 3], 0.0)
    gy = max(box[f, 1] - q[1], q[1] - box[f, 4], 0.0)
    gz = max(box[f, 2] - q[2], q[2] - box[f, 5], 0.0)
    return (gx * gx + gy * gy) + gz * gz


@numba.njit(cache=True, nogil=True, inline="always")
def _scan(q, c, p_start, p_pts, p_near):  # pragma: no cover - compiled
    """Smallest squared distance from query q (3,) to the points of cell c, lowering their own bounds on the way."""
    found = np.inf
    for s in range(p_start[c], p_start[c + 1]):
        dx = q[0] - p_pts[s, 0]
        dy = q[1] - p_pts[s, 1]
        dz = q[2] - p_pts[s, 2]
        d2 = (dx * dx + dy * dy) + dz * dz
        p_near[s] = min(p_near[s], d2)
        found = min(found, d2)
    return found


@numba.njit(cache=True, nogil=True)
def _undecided(d2, ts, ts2_lo):  # pragma: no cover - compiled
    """Index of the largest threshold (ts ascending) that sqrt(d2) is not below; -1 once all are met.
    ts2_lo: a squared distance surely below the smallest threshold, which settles most cases without a sqrt."""
    if d2 < ts2_lo:
        return -1
    d = math.sqrt(d2)
    for k in range(ts.shape[0] - 1, -1, -1):
        if not d < ts[k]:
            return k
    return -1
