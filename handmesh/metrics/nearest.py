"""Exact nearest-neighbour decisions for the F-scores: is the nearest point of the other set closer than t?

The F-score needs, for every vertex of a sample, whether its nearest neighbour among the other sample's vertices
is closer than 5 mm and than 15 mm, both ways. Brute force is 3,960 x 778 x 778 pairs per alignment; here each
sample's points are sorted into a uniform grid whose cells are at least as wide as the largest threshold, so a
point's neighbours closer than that threshold all lie in the 3 x 3 x 3 cells around its own cell. A point's search
stops as soon as every threshold is decided, and it starts from the distance to its corresponding point (same
index) when both sets have the same size, which often decides everything at once. Every distance computed is
also an upper bound for the other point's nearest distance, which settles many points of the second pass early.

The search is exact: distances are float64 `sqrt((dx^2 + dy^2) + dz^2)` on the original coordinates, the value
the official script's KD-tree (open3d) compares with `< t`, and the grid only skips pairs that are provably at
least one cell width apart. The kernels are compiled with numba (cached on disk after the first run) and
release the GIL, so chunks of samples run in parallel threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

_CELL_MARGIN = 1e-6  # cells are this much (relative) wider than the largest threshold: rounding can't hide a pair
_MAX_CELLS_PER_POINT = 4  # the grid grows coarser (cells twice as wide) until it has at most ~4 cells per point


def nearest_within(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, thresholds: Sequence[float], threads: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """For every point of `a` (B, N, 3) whether its nearest point of `b` (B, M, 3) (same sample) is closer than
    each threshold (strict `<`), and the same for every point of `b` towards `a`.

    Returns boolean tensors (T, B, N) and (T, B, M), equal to brute force on float64 sqrt((dx^2 + dy^2) + dz^2).
    threads: worker threads (default: torch's intra-op thread count).
    """
    ts = np.asarray([float(t) for t in thresholds], dtype=np.float64)
    if not np.all((ts > 0) & np.isfinite(ts)):
        raise ValueError(f"thresholds must be positive and finite, got {list(thresholds)}")
    a64, b64 = _as_f64(a), _as_f64(b)
    if a64.ndim != 3 or b64.ndim != 3 or a64.shape[0] != b64.shape[0] or a64.shape[2] != 3 or b64.shape[2] != 3:
        raise ValueError(f"nearest_within: expected (B, N, 3) and (B, M, 3), got {a64.shape} and {b64.shape}")
    if not (all_finite(a64) and all_finite(b64)):
        raise ValueError("nearest_within: non-finite coordinates")
    near_a = np.full(a64.shape[:2], np.inf)  # squared distances that decide every threshold (see _search)
    near_b = np.full(b64.shape[:2], np.inf)
    if ts.size and a64.shape[1] and b64.shape[1]:
        _run_chunks(a64, b64, np.sort(ts), near_a, near_b, threads or torch.get_num_threads())
    dist_a, dist_b = np.sqrt(near_a), np.sqrt(near_b)
    found_a = torch.from_numpy(dist_a[None] < ts[:, None, None])  # (T, B, N)
    found_b = torch.from_numpy(dist_b[None] < ts[:, None, None])  # (T, B, M)
    return found_a, found_b


def all_finite(x: np.ndarray | torch.Tensor) -> bool:
    """Whether x (numpy or torch) holds no NaN or inf; a finite sum settles it without a full boolean pass."""
    lib = torch if isinstance(x, torch.Tensor) else np
    return bool(lib.isfinite(x.sum())) or bool(lib.isfinite(x).all())


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


def _as_f64(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.ascontiguousarray(x, dtype=np.float64)


# ------------------------------------------------------------------------------------------------------------------
# numba kernels (squared distances throughout; sqrt only where a threshold is compared, as the official script)


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
        _search(a[s], b[s], ts, near_a[s], near_b[s])
        _search(b[s], a[s], ts, near_b[s], near_a[s])


@numba.njit(cache=True, nogil=True)
def _undecided(d2, ts):  # pragma: no cover - compiled
    """Index of the largest threshold (ts ascending) that sqrt(d2) is not below; -1 once all are met."""
    d = math.sqrt(d2)
    for k in range(ts.shape[0] - 1, -1, -1):
        if not d < ts[k]:
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _cell_sort(points, lo, inv_h, dims):  # pragma: no cover - compiled
    """Counting sort of points (M, 3) into the grid: start (cells + 1,) and order (points inside the grid)."""
    m = points.shape[0]
    n_cells = dims[0] * dims[1] * dims[2]
    cell = np.empty(m, np.int64)
    start = np.zeros(n_cells + 1, np.int64)
    for j in range(m):
        cx = int(math.floor((points[j, 0] - lo[0]) * inv_h))
        cy = int(math.floor((points[j, 1] - lo[1]) * inv_h))
        cz = int(math.floor((points[j, 2] - lo[2]) * inv_h))
        if cx < 0 or cy < 0 or cz < 0 or cx >= dims[0] or cy >= dims[1] or cz >= dims[2]:
            cell[j] = -1  # outside the grid: farther than a cell from every point of the other set
            continue
        cell[j] = (cx * dims[1] + cy) * dims[2] + cz
        start[cell[j] + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    order = np.empty(start[n_cells], np.int64)
    fill = start[:-1].copy()
    for j in range(m):
        if cell[j] >= 0:
            order[fill[cell[j]]] = j
            fill[cell[j]] += 1
    return start, order


@numba.njit(cache=True, nogil=True)
def _search(qs, ps, ts, near_q, near_p):  # pragma: no cover - compiled
    """Lower near_q[i] (squared) until it decides every threshold for query qs[i] against the points ps.

    On return, for every threshold t: sqrt(near_q[i]) < t exactly when qs[i]'s nearest point of ps is closer
    than t. Every distance computed also lowers near_p for that point of ps.
    """
    m = ps.shape[0]
    lo = np.empty(3)
    hi = np.empty(3)
    big = 0.0
    for k in range(3):
        lo[k] = ps[:, k].min()
        hi[k] = ps[:, k].max()
        big = max(big, abs(lo[k]), abs(hi[k]), np.abs(qs[:, k]).max())
    # cell width >= the largest threshold, with room for the rounding of (x - lo) / h at this coordinate size
    h = ts[ts.shape[0] - 1] * (1.0 + _CELL_MARGIN) + 1e-12 * big
    dims = np.empty(3, np.int64)
    while True:  # two empty cells on each side: queries there still see every point within one cell
        span = max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / h
        if span < 1e6:
            for k in range(3):
                dims[k] = int((hi[k] - lo[k]) / h) + 5
            if dims[0] * dims[1] * dims[2] <= _MAX_CELLS_PER_POINT * m + 512:
                break
        h *= 2.0
    origin = lo - 2.0 * h
    p_start, p_order = _cell_sort(ps, origin, 1.0 / h, dims)
    q_start, q_order = _cell_sort(qs, origin, 1.0 / h, dims)
    # the points of ps in cell order, coordinates in separate arrays; their bounds are written back at the end
    n_in = p_order.shape[0]
    px, py, pz, p_near = np.empty(n_in), np.empty(n_in), np.empty(n_in), np.empty(n_in)
    for s in range(n_in):
        j = p_order[s]
        px[s], py[s], pz[s], p_near[s] = ps[j, 0], ps[j, 1], ps[j, 2], near_p[j]
    pad = _CELL_MARGIN * ts[0] + 1e-12 * big  # widens each query box by more than any rounding of the cells
    for cx in range(1, dims[0] - 1):
        for cy in range(1, dims[1] - 1):
            for cz in range(1, dims[2] - 1):
                c = (cx * dims[1] + cy) * dims[2] + cz
                lx, ly, lz = origin[0] + cx * h, origin[1] + cy * h, origin[2] + cz * h  # the cell's low corner
                for r in range(q_start[c], q_start[c + 1]):
                    i = q_order[r]
                    q0, q1, q2 = qs[i, 0], qs[i, 1], qs[i, 2]
                    best = near_q[i]
                    level = _undecided(best, ts)
                    while level >= 0:
                        # the cells that the box q +- (largest undecided threshold) touches: the cell itself and,
                        # per axis, the neighbour on a side the box crosses into
                        rad = ts[level] + pad
                        x0, x1 = -int(q0 - rad < lx), int(q0 + rad >= lx + h)
                        y0, y1 = -int(q1 - rad < ly), int(q1 + rad >= ly + h)
                        z0, z1 = -int(q2 - rad < lz), int(q2 + rad >= lz + h)
                        scanned = level
                        for ox in range(x0, x1 + 1):
                            for oy in range(y0, y1 + 1):
                                base = ((cx + ox) * dims[1] + cy + oy) * dims[2] + cz
                                found = np.inf
                                for s in range(p_start[base + z0], p_start[base + z1 + 1]):
                                    dx = q0 - px[s]
                                    dy = q1 - py[s]
                                    dz = q2 - pz[s]
                                    d2 = (dx * dx + dy * dy) + dz * dz
                                    if d2 < p_near[s]:
                                        p_near[s] = d2
                                    if d2 < found:
                                        found = d2
                                if found < best:
                                    best = found
                                    level = _undecided(best, ts)
                                    if level != scanned:
                                        break
                            if level != scanned:
                                break
                        if level == scanned:
                            break  # the whole box is scanned: every threshold is decided
                    near_q[i] = best
    for s in range(n_in):
        near_p[p_order[s]] = p_near[s]
