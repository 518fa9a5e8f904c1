"""The synthetic generator writes exactly FreiHAND's layout, deterministically, annotated by FreiHAND's rule."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from raster import boundary_band, iou, project, rasterize
from synthetic_set import EVAL, SEED, TRAIN, synthetic_root  # noqa: F401 (fixture)

from handmesh.data import synthetic
from handmesh.data.errors import DataError
from handmesh.data.layout import SYNTHETIC_MARKER
from handmesh.mano.constants import FREIHAND_TRAIN_UNIQUE
from handmesh.mano.file import MANOFileError
from handmesh.mano.freihand_params import from_freihand


def _load(root: Path, name: str) -> np.ndarray:
    return np.asarray(json.loads((root / f"{name}.json").read_text()), dtype=np.float64)


def test_layout_and_shapes(synthetic_root: Path) -> None:  # noqa: F811
    root = synthetic_root
    rgb = sorted(p.name for p in (root / "training" / "rgb").iterdir())
    expected = sorted(f"{i + FREIHAND_TRAIN_UNIQUE * v:08d}.jpg" for v in range(4) for i in range(TRAIN))
    assert rgb == expected
    assert sorted(p.name for p in (root / "training" / "mask").iterdir()) == [f"{i:08d}.jpg" for i in range(TRAIN)]
    assert sorted(p.name for p in (root / "evaluation" / "rgb").iterdir()) == [f"{i:08d}.jpg" for i in range(EVAL)]
    for split, n in (("training", TRAIN), ("evaluation", EVAL)):
        shapes = {"K": (n, 3, 3), "mano": (n, 1, 61), "xyz": (n, 21, 3), "verts": (n, 778, 3), "scale": (n,)}
        for name, shape in shapes.items():
            assert _load(root, f"{split}_{name}").shape == shape, (split, name)
    image = cv2.imread(str(root / "training" / "rgb" / expected[-1]))
    assert image.shape == (224, 224, 3)
    assert (root / SYNTHETIC_MARKER).is_file()


@pytest.mark.parametrize("split", ["training", "evaluation"])
def test_annotations_follow_freihand_rule(synthetic_root: Path, hand_model, split: str) -> None:  # noqa: F811
    K, mano = _load(synthetic_root, f"{split}_K"), _load(synthetic_root, f"{split}_mano")
    xyz, verts = _load(synthetic_root, f"{split}_xyz"), _load(synthetic_root, f"{split}_verts")
    decoded = from_freihand(torch.as_tensor(mano), torch.as_tensor(K), hand_model)
    assert np.abs(decoded.keypoints.numpy() - xyz).max() < 1e-6
    assert np.abs(decoded.vertices.numpy() - verts).max() < 1e-6
    assert np.allclose(_load(synthetic_root, f"{split}_scale"), np.linalg.norm(xyz[:, 9] - xyz[:, 10], axis=-1))
    for i in range(len(K)):
        assert np.abs(project(xyz[i, 9:10], K[i])[0] - mano[i, 0, 58:60]).max() < 1e-6  # uv_root
        f = 0.5 * (K[i, 0, 0] + K[i, 1, 1])
        assert np.isclose(mano[i, 0, 60], f / xyz[i, 9, 2])  # scale = f / depth of keypoint 9


def test_cameras_and_placement_are_freihand_like(synthetic_root: Path) -> None:  # noqa: F811
    K, xyz = _load(synthetic_root, "training_K"), _load(synthetic_root, "training_xyz")
    assert np.all((K[:, 0, 0] >= 400) & (K[:, 0, 0] <= 900)) and np.allclose(K[:, 0, 0], K[:, 1, 1])
    assert np.all(np.abs(K[:, :2, 2] - 112) <= 10)
    assert np.all((xyz[:, 9, 2] >= 0.4) & (xyz[:, 9, 2] <= 0.9))
    for i in range(len(K)):
        uv = project(xyz[i], K[i])
        assert np.abs(uv[9] - 112).max() < 20  # keypoint 9 near the centre
        extent = (uv.max(0) - uv.min(0)).max()
        assert 60 < extent < 224  # the hand fills a good part of the crop
    mano = _load(synthetic_root, "training_mano")[:, 0]
    assert np.abs(mano[:, 3:48]).max() > 0.3 and np.abs(mano[:, 48:58]).max() > 0.3  # varied pose and shape


def test_mask_lies_over_projected_mesh(synthetic_root: Path, hand_model) -> None:  # noqa: F811
    """The written mask is the silhouette of the written vertices under the written K (pixel centres at integers)."""
    K, verts = _load(synthetic_root, "training_K"), _load(synthetic_root, "training_verts")
    faces = hand_model.faces.numpy()
    for i in range(TRAIN):
        mask = cv2.imread(str(synthetic_root / "training" / "mask" / f"{i:08d}.jpg"), cv2.IMREAD_GRAYSCALE) > 127
        exact = rasterize(project(verts[i], K[i]), faces, (224, 224))
        assert iou(mask, exact) > 0.98, (i, iou(mask, exact))
        assert not ((mask ^ exact) & ~boundary_band(exact)).any(), i  # disagreement only on edge pixels
        # a half-pixel (or one-row) shift of the convention would fail this: the centroids agree to 1/4 px
        centroid = [np.argwhere(m).mean(axis=0) for m in (mask, exact)]
        assert np.abs(centroid[0] - centroid[1]).max() < 0.25, (i, centroid)


def test_versions_share_the_hand_and_differ_in_background(synthetic_root: Path) -> None:  # noqa: F811
    mask = cv2.imread(str(synthetic_root / "training" / "mask" / "00000000.jpg"), cv2.IMREAD_GRAYSCALE) > 127
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    outer = ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    images = [
        cv2.imread(str(synthetic_root / "training" / "rgb" / f"{FREIHAND_TRAIN_UNIQUE * v:08d}.jpg")).astype(float)
        for v in range(4)
    ]
    for v in range(1, 4):
        assert np.abs(images[v][inner] - images[0][inner]).mean() < 8  # the same rendered hand
        assert np.abs(images[v][outer] - images[0][outer]).mean() > 20  # another background
    assert images[0][outer][:, 1].mean() > images[0][outer][:, [0, 2]].mean() + 20  # v0: green screen (BGR)


def test_deterministic_for_a_seed(synthetic_root: Path, standin_path: Path, tmp_path: Path) -> None:  # noqa: F811
    again = synthetic.generate(tmp_path / "again", TRAIN, EVAL, SEED, standin_path, workers=1, progress=False)
    files = sorted(p.relative_to(synthetic_root) for p in synthetic_root.rglob("*") if p.is_file() and
                   ".handmesh_cache" not in p.parts)  # fmt: skip
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (synthetic_root / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_other_seed_differs(standin_path: Path, tmp_path: Path) -> None:
    from handmesh.data.synthetic_hands import pose_prior_std, sample_hands
    from handmesh.mano.file import load_mano_file
    from handmesh.mano.hand_model import HandModel

    model = load_mano_file(standin_path)
    hand = HandModel(model, dtype=torch.float64)
    a = sample_hands(hand, pose_prior_std(model), "training", 5, seed=1)
    b = sample_hands(hand, pose_prior_std(model), "training", 5, seed=2)
    c = sample_hands(hand, pose_prior_std(model), "training", 5, seed=1, batch=2)
    assert not np.allclose(a.mano, b.mano)
    assert np.allclose(a.mano, c.mano, atol=1e-9)  # per-sample streams: batching does not matter
    three = sample_hands(hand, pose_prior_std(model), "training", 3, seed=1)  # (3, 3) axis-angles
    assert np.allclose(three.verts, a.verts[:3], atol=1e-9)


def test_ensure_synthetic_generates_only_when_incomplete(
    standin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple] = []

    def fake_generate(root, train, eval, seed, mano_path=None, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append((train, eval, seed))
        Path(root).mkdir(parents=True, exist_ok=True)
        marker = synthetic._marker(train, eval, seed, Path(mano_path), synthetic.SceneConfig())
        (Path(root) / SYNTHETIC_MARKER).write_text(json.dumps(marker))
        return Path(root)

    monkeypatch.setattr(synthetic, "generate", fake_generate)
    root = tmp_path / "set"
    synthetic.ensure_synthetic(root, 2, 1, 0, standin_path)
    synthetic.ensure_synthetic(root, 2, 1, 0, standin_path)  # complete: nothing to do
    assert calls == [(2, 1, 0)]
    synthetic.ensure_synthetic(root, 3, 1, 0, standin_path)  # other parameters: regenerate
    assert calls[-1] == (3, 1, 0)
    (root / SYNTHETIC_MARKER).unlink()  # an interrupted run leaves no marker
    synthetic.ensure_synthetic(root, 3, 1, 0, standin_path)
    assert len(calls) == 3


def test_generator_cli_and_replacing_a_set(
    standin_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    out = tmp_path / "cli"
    synthetic.main(["--out", str(out), "--train", "2", "--eval", "1", "--mano", str(standin_path), "--workers", "1"])
    assert "stand-in" in caplog.text.lower()
    assert (out / "training" / "rgb" / f"{1 + 3 * FREIHAND_TRAIN_UNIQUE:08d}.jpg").is_file()
    assert (out / SYNTHETIC_MARKER).is_file() and not (tmp_path / "cli.partial").exists()
    # a smaller set over it: exactly the new files, nothing stale; a leftover .partial of a killed run is ignored
    (tmp_path / "cli.partial" / "training").mkdir(parents=True)
    synthetic.generate(out, 1, 0, 0, standin_path, workers=1, progress=False)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    expected = [f"training/rgb/{FREIHAND_TRAIN_UNIQUE * v:08d}.jpg" for v in range(4)]
    expected.append("training/mask/00000000.jpg")
    names = ("K", "mano", "scale", "verts", "xyz")
    expected += [f"{split}_{name}.json" for split in ("evaluation", "training") for name in names]
    assert files == sorted([*expected, SYNTHETIC_MARKER])
    assert not (tmp_path / "cli.partial").exists()
    assert json.loads((out / "evaluation_K.json").read_text()) == []


def test_generator_refuses_other_folders_and_bad_counts(standin_path: Path, tmp_path: Path) -> None:
    real = tmp_path / "FreiHAND_pub_v2"
    (real / "training").mkdir(parents=True)
    (real / "training_K.json").write_text("[]")
    with pytest.raises(DataError, match=r"refusing .*FreiHAND_pub_v2.*not a synthetic set"):
        synthetic.generate(real, 1, 0, 0, standin_path, workers=1, progress=False)
    assert (real / "training_K.json").read_text() == "[]"  # untouched
    with pytest.raises(ValueError, match="train must be in"):
        synthetic.generate(tmp_path / "big", FREIHAND_TRAIN_UNIQUE + 1, 0, 0, standin_path)
    with pytest.raises(MANOFileError, match="MANO_RIGHT.pkl"):
        synthetic.generate(tmp_path / "x", 1, 0, 0, tmp_path / "MANO_RIGHT.pkl")
