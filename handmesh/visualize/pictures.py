"""One function per picture of a prediction, a row combining them, and grids of rows.

Every picture is an RGB uint8 array (H, W, 3). Meshes are in the camera frame (metres) with the
image's intrinsics K (pixels, OpenCV), as FreiHAND's annotations and `predict_arrays` give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handmesh.render.renderer import Material, Renderer
from handmesh.visualize.draw import colorbar, draw_skeleton, hstack, image_grid, label, project_points, save_image
from handmesh.visualize.error_map import aligned_prediction, default_error_range, error_colors, vertex_errors_mm
from handmesh.visualize.views import GT_MATERIAL, PRED_MATERIAL, mesh_extent, render_overlay, render_views

STANDIN_BANNER = "procedural STAND-IN hand model (not MANO)"


def overlay_picture(
    image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, renderer: Renderer,
    material: Material = PRED_MATERIAL, title: str | None = "prediction",
) -> np.ndarray:  # fmt: skip
    """The mesh rendered with K over the image."""
    out = render_overlay(renderer, image, vertices, faces, K, material=material)
    return label(out, title) if title else out


def views_picture(
    vertices: np.ndarray, faces: np.ndarray, renderer: Renderer, size: int,
    views: Sequence[str] = ("side", "top"), material: Material = PRED_MATERIAL, title: str | None = None,
    extent: float | None = None,
) -> np.ndarray:  # fmt: skip
    """The same mesh from the side and from above (one size x size tile per view), side by side."""
    tiles = render_views(renderer, vertices, faces, size, views, material=material, extent=extent)
    named = [label(t, f"{title} {v}" if title else str(v)) for t, v in zip(tiles, views, strict=True)]
    return hstack(named)


def skeleton_picture(
    image: np.ndarray, keypoints: np.ndarray, K: np.ndarray | None = None, gt_keypoints: np.ndarray | None = None,
    title: str | None = "keypoints",
) -> np.ndarray:  # fmt: skip
    """The 21-keypoint skeleton over the image, in FreiHAND's bone order, coloured per finger.

    keypoints: (21, 3) camera frame (needs K) or (21, 2) pixels. gt_keypoints likewise, drawn first,
    thin and black, under the prediction.
    """

    def pixels(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if points.shape[-1] == 3:
            if K is None:
                raise ValueError("3D keypoints need the intrinsics K to be drawn")
            return project_points(points, K)
        return points

    out = np.ascontiguousarray(image)
    if gt_keypoints is not None:
        out = draw_skeleton(out, pixels(gt_keypoints), thickness=1, radius=2, color=(0, 0, 0))
    out = draw_skeleton(out, pixels(keypoints))
    return label(out, title) if title else out


def error_picture(
    pred_vertices: np.ndarray, gt_vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, renderer: Renderer,
    size: tuple[int, int], image: np.ndarray | None = None, max_mm: float | None = None,
    views: Sequence[str] = ("side",),
) -> np.ndarray:  # fmt: skip
    """Per-vertex error (mm) after Procrustes alignment, as colours on the aligned prediction, with a colour bar.

    Tiles: the aligned prediction in the ground truth's camera (over a faded `image` if given), then
    `views` of it, then the colour bar [0, max_mm] (default: 95th percentile rounded up to 5 mm).
    """
    errors = vertex_errors_mm(pred_vertices, gt_vertices)
    max_mm = default_error_range(errors) if max_mm is None else float(max_mm)
    colors = error_colors(errors, max_mm)
    aligned = aligned_prediction(pred_vertices, gt_vertices)
    width, height = size
    background = np.full((height, width, 3), 255, np.uint8)
    if image is not None:
        background = (0.35 * np.asarray(image, np.float32) + 0.65 * 255).astype(np.uint8)
    front = render_overlay(renderer, background, aligned, faces, K, colors=colors, alpha=1.0)
    tiles = [label(front, f"PA error {errors.mean():.1f} mm")]
    others = render_views(renderer, aligned, faces, height, views, colors=colors, extent=mesh_extent(gt_vertices))
    tiles += [label(t, v) for t, v in zip(others, views, strict=True)]
    tiles.append(colorbar(height, max_mm, unit="mm"))
    return hstack(tiles)


@dataclass
class SampleView:
    """What one row of pictures shows. Arrays in the camera frame (metres); keypoints (21, 3); image RGB uint8."""

    image: np.ndarray
    K: np.ndarray
    pred_vertices: np.ndarray
    pred_keypoints: np.ndarray | None = None
    gt_vertices: np.ndarray | None = None
    gt_keypoints: np.ndarray | None = None
    title: str | None = None


def comparison_row(
    sample: SampleView, faces: np.ndarray, renderer: Renderer, views: Sequence[str] = ("side", "top"),
    max_mm: float | None = None,
) -> np.ndarray:  # fmt: skip
    """One row: input (+ title) | keypoint skeleton | prediction over the image | prediction side/top views |
    ground truth over the image | ground truth side/top views | error map with colour bar.

    Ground-truth tiles and the error map appear only when `sample.gt_vertices` is given; the
    skeleton only when keypoints are. Side/top views of prediction and ground truth share one scale.
    """
    image = np.ascontiguousarray(sample.image)
    height, width = image.shape[:2]
    extent = mesh_extent(sample.gt_vertices if sample.gt_vertices is not None else sample.pred_vertices)
    tiles = [label(image, sample.title or "input")]
    if sample.pred_keypoints is not None:
        name = "keypoints" + (" (GT black)" if sample.gt_keypoints is not None else "")
        tiles.append(skeleton_picture(image, sample.pred_keypoints, sample.K, sample.gt_keypoints, title=name))
    tiles.append(overlay_picture(image, sample.pred_vertices, faces, sample.K, renderer, PRED_MATERIAL, "prediction"))
    tiles.append(views_picture(sample.pred_vertices, faces, renderer, height, views, PRED_MATERIAL, "pred", extent))
    if sample.gt_vertices is not None:
        tiles.append(overlay_picture(image, sample.gt_vertices, faces, sample.K, renderer, GT_MATERIAL, "ground truth"))
        tiles.append(views_picture(sample.gt_vertices, faces, renderer, height, views, GT_MATERIAL, "GT", extent))
        tiles.append(error_picture(sample.pred_vertices, sample.gt_vertices, faces, sample.K, renderer,
                                   (width, height), image=image, max_mm=max_mm, views=()))  # fmt: skip
    return hstack(tiles)


def prediction_panel(
    image_rgb: np.ndarray,
    K: np.ndarray,
    faces: np.ndarray,
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray | None,
    renderer: Renderer,
) -> np.ndarray:
    """[input | prediction overlaid | ground truth overlaid] as one RGB image (H, 2W or 3W, 3)."""
    tiles = [label(image_rgb, "input"), overlay_picture(image_rgb, pred_vertices, faces, K, renderer)]
    if gt_vertices is not None:
        tiles.append(overlay_picture(image_rgb, gt_vertices, faces, K, renderer, GT_MATERIAL, "ground truth"))
    return np.concatenate(tiles, axis=1)


def overlay_grid(
    samples: Sequence[SampleView], faces: np.ndarray, renderer: Renderer | None = None, title: str | None = None,
    views: Sequence[str] = ("side", "top"), max_mm: float | None = None,
) -> np.ndarray:  # fmt: skip
    """A grid with one `comparison_row` per sample (a renderer is made and closed if none is given).

    `max_mm` fixes the error colour scale for every row (default: per row).
    """
    own = renderer is None
    renderer = renderer or Renderer()
    try:
        rows = [comparison_row(s, faces, renderer, views, max_mm) for s in samples]
    finally:
        if own:
            renderer.close()
    return image_grid(rows, title=title)


def dataset_samples(dataset: Any, pred: dict[str, np.ndarray], count: int = 8) -> list[SampleView]:
    """`SampleView`s for the first `count` predictions of `predict_arrays` on a `FreiHANDDataset`.

    The original image file (not the network input) is shown with the annotation's K; `pred` holds
    `index` (positions in `dataset`), `vertices` and optionally `keypoints` (camera frame).
    """
    from handmesh.data.image_io import read_image
    from handmesh.data.layout import rgb_path

    samples = []
    for row, index in enumerate(pred["index"][:count]):
        ann_idx, img_id = dataset.locate(int(index))
        image = cv2.cvtColor(read_image(rgb_path(dataset.root, dataset.split, img_id)), cv2.COLOR_BGR2RGB)
        samples.append(
            SampleView(
                image=image,
                K=dataset.annotations["K"][ann_idx],
                pred_vertices=pred["vertices"][row],
                pred_keypoints=pred["keypoints"][row] if "keypoints" in pred else None,
                gt_vertices=dataset.annotations["verts"][ann_idx] if dataset.has_gt else None,
                gt_keypoints=dataset.annotations["xyz"][ann_idx] if dataset.has_gt else None,
                title=f"{dataset.split} {img_id:08d}",
            )
        )
    return samples


def save_overlay_grid(
    path: str | Path,
    dataset: Any,
    pred: dict[str, np.ndarray],
    hand_model: Any,
    count: int = 8,
    renderer: Renderer | None = None,
) -> Path:
    """Write a PNG with one `comparison_row` per sample for the first `count` predictions; returns the path.

    dataset: a `FreiHANDDataset`; pred: `predict_arrays` output (`index`, `vertices`, optional
    `keypoints`); hand_model: gives the faces, and a stand-in banner when it is the stand-in.
    """
    title = f"{STANDIN_BANNER}, synthetic data" if getattr(hand_model, "is_standin", False) else None
    faces = hand_model.faces.cpu().numpy()
    grid = overlay_grid(dataset_samples(dataset, pred, count), faces, renderer, title=title)
    return save_image(path, grid)
