"""Pictures: overlays with K, side/top views, skeleton, Procrustes error map with colour bar, grids."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from synthetic_set import EVAL, synthetic_root  # noqa: F401 (fixture)

from handmesh.data.augment import normalize_image
from handmesh.data.freihand import FreiHANDDataset
from handmesh.geometry.procrustes import procrustes_align
from handmesh.mano.constants import KEYPOINT_PARENTS
from handmesh.render.renderer import Renderer
from handmesh.visualize import (
    BONES,
    SampleView,
    colorbar,
    comparison_row,
    denormalize_image,
    draw_skeleton,
    error_picture,
    image_grid,
    orbit_camera,
    overlay_grid,
    overlay_picture,
    prediction_panel,
    save_overlay_grid,
    skeleton_picture,
    vertex_errors_mm,
    views_picture,
)
from handmesh.visualize.draw import FINGER_COLORS, project_points


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with Renderer() as r:
        yield r


@pytest.fixture(scope="module")
def dataset(synthetic_root: Path) -> FreiHANDDataset:  # noqa: F811 (the imported fixture)
    return FreiHANDDataset(synthetic_root, "evaluation", input_size=224)


@pytest.fixture(scope="module")
def sample(dataset: FreiHANDDataset) -> dict[str, np.ndarray]:
    """The first evaluation sample: image (RGB), K, GT vertices and keypoints."""
    _, img_id = dataset.locate(0)
    image = cv2.cvtColor(cv2.imread(str(dataset.root / "evaluation" / "rgb" / f"{img_id:08d}.jpg")), cv2.COLOR_BGR2RGB)
    a = dataset.annotations
    return {"image": image, "K": a["K"][0], "verts": a["verts"][0].astype(np.float64), "xyz": a["xyz"][0]}


def _fingertip_bend(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """A non-rigid change (fingertips pushed 8 mm along x) that Procrustes cannot remove."""
    out = verts.copy()
    out[[744, 320, 443, 555, 672]] += [0.008, 0.0, 0.0]
    return out


def test_overlay_uses_K(sample: dict, renderer: Renderer, hand_model) -> None:
    faces = hand_model.faces.numpy()
    pic = overlay_picture(sample["image"], sample["verts"], faces, sample["K"], renderer, title=None)
    assert pic.shape == sample["image"].shape and pic.dtype == np.uint8
    changed = np.abs(pic.astype(int) - sample["image"].astype(int)).sum(-1) > 30
    # The mesh lands where its vertices project with K: the changed pixels cover the projected vertices ...
    uv = np.round(project_points(sample["verts"], sample["K"])).astype(int)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < pic.shape[1]) & (uv[:, 1] >= 0) & (uv[:, 1] < pic.shape[0])
    assert changed[uv[inside, 1], uv[inside, 0]].mean() > 0.9
    # ... and stay within their bounding box (a couple of pixels of antialiasing aside).
    ys, xs = np.nonzero(changed)
    assert xs.min() >= uv[:, 0].min() - 3 and xs.max() <= uv[:, 0].max() + 3
    assert ys.min() >= uv[:, 1].min() - 3 and ys.max() <= uv[:, 1].max() + 3


def test_orbit_views_show_the_side_and_the_top() -> None:
    # A flat "plate" facing the camera: thin along z. From the side it must look thin horizontally,
    # from above thin vertically.
    g = np.random.default_rng(0)
    plate = np.c_[g.uniform(-0.05, 0.05, 500), g.uniform(-0.05, 0.05, 500), g.uniform(0.5, 0.505, 500)]
    for view, thin_axis in (("front", None), ("side", 0), ("top", 1)):
        moved, K = orbit_camera(plate, view, 200)
        uv = project_points(moved, K)
        assert np.all((uv > 0) & (uv < 200)), view  # framed inside the tile
        spread = np.ptp(uv, axis=0)
        if thin_axis is None:
            assert spread.min() > 100
        else:
            assert spread[thin_axis] < 0.2 * spread[1 - thin_axis], view
    # Side: the camera's +x side faces the new camera (points at +x come closer).
    moved, _ = orbit_camera(plate, "side", 200)
    right = plate[:, 0] > 0.03
    assert moved[right, 2].mean() < moved[~right, 2].mean()
    moved, _ = orbit_camera(plate, "top", 200)  # top: -y (up in OpenCV) comes closer
    up = plate[:, 1] < -0.03
    assert moved[up, 2].mean() < moved[~up, 2].mean()


def test_views_picture(sample: dict, renderer: Renderer, hand_model) -> None:
    pic = views_picture(sample["verts"], hand_model.faces.numpy(), renderer, 128)
    assert pic.shape == (128, 256, 3)
    for tile in (pic[:, :128], pic[:, 128:]):
        hand = (tile < 240).any(-1)
        assert 0.05 < hand.mean() < 0.8  # a framed hand in each view
        assert not hand[0].any() and not hand[-1].any()  # not cut at the border


def test_skeleton_in_freihand_bone_order(sample: dict) -> None:
    assert BONES[:4] == ((0, 1), (1, 2), (2, 3), (3, 4))  # wrist -> thumb, base to tip
    assert [b[1] for b in BONES] == list(range(1, 21))
    assert all(p == KEYPOINT_PARENTS[c] for p, c in BONES)
    blank = np.zeros((224, 224, 3), np.uint8)
    uv = project_points(sample["xyz"], sample["K"])
    pic = draw_skeleton(blank, uv, radius=0)
    for parent, child in BONES:  # the midpoint of each bone has that finger's colour
        mid = np.round(0.5 * (uv[parent] + uv[child])).astype(int)
        if np.linalg.norm(uv[parent] - uv[child]) < 4:
            continue
        patch = pic[mid[1] - 1 : mid[1] + 2, mid[0] - 1 : mid[0] + 2].reshape(-1, 3).astype(int)
        want = np.array(FINGER_COLORS[(child - 1) // 4])
        assert np.abs(patch - want).sum(-1).min() < 60, (parent, child)
    both = skeleton_picture(blank, sample["xyz"], sample["K"], gt_keypoints=uv + 5.0, title=None)
    assert both.shape == blank.shape and both.any()
    with pytest.raises(ValueError, match="need the intrinsics"):
        skeleton_picture(blank, sample["xyz"])


def test_error_is_procrustes_aligned_in_mm(sample: dict, hand_model) -> None:
    gt = sample["verts"]
    # A similarity transform of the ground truth has no error after alignment ...
    c, s = np.cos(0.3), np.sin(0.3)
    moved = 1.1 * gt @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + [0.01, -0.02, 0.03]
    assert vertex_errors_mm(moved, gt).max() < 1e-3
    assert vertex_errors_mm(moved, gt, align=False).min() > 1.0
    # ... a non-rigid change does, in mm, equal to the distance after the official alignment.
    bent = _fingertip_bend(gt, hand_model.faces.numpy())
    err = vertex_errors_mm(bent, gt)
    aligned = procrustes_align(torch.as_tensor(bent), torch.as_tensor(gt)).numpy()
    np.testing.assert_allclose(err, 1000 * np.linalg.norm(aligned - gt, axis=1), rtol=1e-9)
    assert err[[744, 320, 443, 555, 672]].min() > 4.0 and np.median(err) < 2.0


def test_error_picture_colours_and_colour_bar(sample: dict, renderer: Renderer, hand_model) -> None:
    faces = hand_model.faces.numpy()
    gt = sample["verts"]
    pic = error_picture(_fingertip_bend(gt, faces), gt, faces, sample["K"], renderer, (224, 224), max_mm=10.0)
    assert pic.shape[0] == 224 and pic.shape[1] == 224 + 224 + 64  # front, side, colour bar
    bar = colorbar(224, 10.0)
    np.testing.assert_array_equal(pic[:, -64:], bar)
    # The bar runs from dark blue (0 mm, bottom) to dark red (10 mm, top).
    low, high = bar[-12, 10].astype(int), bar[16, 10].astype(int)
    assert low[2] > low[0] and high[0] > high[2]
    # Fingertips (large error) are drawn in warm colours, the palm (small error) in cold ones.
    uv = np.round(project_points(gt, sample["K"])).astype(int)
    front = pic[:, :224].astype(int)
    tip = front[uv[443, 1], uv[443, 0]]
    palm = front[uv[0, 1], uv[0, 0]]  # near the wrist
    assert tip[0] > tip[2] and palm[2] > palm[0]


def test_comparison_row_and_grid(sample: dict, renderer: Renderer, hand_model) -> None:
    faces = hand_model.faces.numpy()
    view = SampleView(sample["image"], sample["K"], _fingertip_bend(sample["verts"], faces), sample["xyz"],
                      sample["verts"], sample["xyz"], title="sample 0")  # fmt: skip
    row = comparison_row(view, faces, renderer)
    # input, skeleton, prediction, pred side+top, GT, GT side+top, error (image + bar)
    assert row.shape == (224, 224 * 9 + 64, 3)
    no_gt = comparison_row(SampleView(sample["image"], sample["K"], sample["verts"]), faces, renderer)
    assert no_gt.shape == (224, 224 * 4, 3)
    grid = overlay_grid([view, SampleView(sample["image"], sample["K"], sample["verts"])], faces, renderer, title="t")
    assert grid.shape == (22 + 224 + 4 + 224, row.shape[1], 3)
    np.testing.assert_array_equal(grid[22:246], row)
    # The ground-truth tile is the GT mesh over the image, coloured differently from the prediction.
    gt_tile, pred_tile = row[:, 224 * 5 : 224 * 6].astype(int), row[:, 224 * 2 : 224 * 3].astype(int)
    assert gt_tile[..., 0].mean() > pred_tile[..., 0].mean()
    with pytest.raises(ValueError):
        image_grid([])


def test_prediction_panel_is_kept(sample: dict, renderer: Renderer, hand_model) -> None:
    faces = hand_model.faces.numpy()
    panel = prediction_panel(sample["image"], sample["K"], faces, sample["verts"], sample["verts"], renderer)
    assert panel.shape == (224, 3 * 224, 3)
    assert prediction_panel(sample["image"], sample["K"], faces, sample["verts"], None, renderer).shape[1] == 448


def test_save_overlay_grid_from_dataset(dataset: FreiHANDDataset, hand_model, tmp_path: Path) -> None:
    a = dataset.annotations
    pred = {"index": np.arange(EVAL), "vertices": a["verts"] + 0.002, "keypoints": a["xyz"] + 0.002}
    path = save_overlay_grid(tmp_path / "sub" / "grid.png", dataset, pred, hand_model, count=2)
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] == 22 + 2 * 224 + 4  # banner + two rows
    assert not list(path.parent.glob(".*tmp*"))  # written atomically, nothing left over
    # The stand-in banner is drawn (dark text pixels in the top band).
    assert (img[:22] < 100).any()


def test_denormalize_round_trip() -> None:
    bgr = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    rgb = denormalize_image(torch.from_numpy(normalize_image(bgr)))
    assert np.abs(rgb.astype(int) - bgr[..., ::-1].astype(int)).max() <= 1
