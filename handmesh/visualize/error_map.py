"""Per-vertex error of a predicted mesh after Procrustes alignment (as in FreiHAND's PA-MPVPE), in mm."""

from __future__ import annotations

import numpy as np
import torch

from handmesh.geometry.procrustes import procrustes_align
from handmesh.visualize.draw import colormap


def aligned_prediction(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> np.ndarray:
    """The prediction (V, 3) Procrustes-aligned (scale, rotation, translation) onto the ground truth (V, 3)."""
    pred = torch.as_tensor(np.asarray(pred_vertices, dtype=np.float64))
    gt = torch.as_tensor(np.asarray(gt_vertices, dtype=np.float64))
    return np.asarray(procrustes_align(pred, gt).detach().cpu().numpy(), dtype=np.float64)


def vertex_errors_mm(pred_vertices: np.ndarray, gt_vertices: np.ndarray, align: bool = True) -> np.ndarray:
    """Per-vertex Euclidean error (V,) in millimetres, after Procrustes alignment unless `align=False`."""
    pred = aligned_prediction(pred_vertices, gt_vertices) if align else np.asarray(pred_vertices, np.float64)
    return 1000.0 * np.linalg.norm(pred - np.asarray(gt_vertices, dtype=np.float64), axis=1)


def default_error_range(errors_mm: np.ndarray) -> float:
    """Upper end of the colour scale: the 95th percentile rounded up to 5 mm, at least 5 mm."""
    return float(max(5.0, 5.0 * np.ceil(np.percentile(errors_mm, 95) / 5.0)))


def error_colors(errors_mm: np.ndarray, max_mm: float, cmap: str = "turbo") -> np.ndarray:
    """Vertex colours (V, 3) floats in [0, 1] for errors in mm, saturating at `max_mm`."""
    return colormap(errors_mm, max_mm, cmap)
