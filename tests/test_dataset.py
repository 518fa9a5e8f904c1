"""FreiHANDDataset / ImageFolderDataset / FreiHANDDataModule on a synthetic set in FreiHAND's layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from synthetic_set import EVAL, TRAIN, copy_set, synthetic_root  # noqa: F401 (fixture)

from handmesh.data.augment import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig
from handmesh.data.datamodule import FreiHANDDataModule
from handmesh.data.errors import DataError
from handmesh.data.freihand import FreiHANDDataset
from handmesh.data.image_folder import ImageFolderDataset
from handmesh.data.layout import SYNTHETIC_MARKER
from handmesh.geometry.camera import pixels_to_normalized, project
from handmesh.mano.constants import FREIHAND_TRAIN_UNIQUE

SHAPES = {
    "image": (3, 224, 224), "K": (3, 3), "keypoints3d": (21, 3), "vertices": (778, 3), "keypoints3d_rel": (21, 3),
    "vertices_rel": (778, 3), "keypoints2d": (21, 2), "global_orient": (3,), "hand_pose": (45,), "betas": (10,),
    "mask": (224, 224), "index": (), "image_id": (), "has_gt": (),
}  # fmt: skip
STRONG = AugmentConfig(rotation_prob=1.0, translation_std=0.05)


def _json(root: Path, name: str) -> list:
    return json.loads((root / f"{name}.json").read_text())


def test_sample_keys_shapes_dtypes(synthetic_root: Path) -> None:  # noqa: F811
    ds = FreiHANDDataset(synthetic_root, augment=AugmentConfig(), return_mask=True)
    assert len(ds) == 4 * TRAIN
    sample = ds[len(ds) - 1]
    assert set(sample) == set(SHAPES)
    for key, shape in SHAPES.items():
        assert tuple(sample[key].shape) == shape, key
        expected = {"index": torch.int64, "image_id": torch.int64, "has_gt": torch.bool}.get(key, torch.float32)
        assert sample[key].dtype == expected, key
    assert int(sample["index"]) == 4 * TRAIN - 1 and int(sample["image_id"]) == TRAIN - 1 + 3 * FREIHAND_TRAIN_UNIQUE
    assert bool(sample["has_gt"]) and set(sample["mask"].unique().tolist()) <= {0.0, 1.0}


def test_versions_select_image_ids(synthetic_root: Path) -> None:  # noqa: F811
    ds = FreiHANDDataset(synthetic_root, versions=("gs", "auto"))
    assert len(ds) == 2 * TRAIN
    expected = [(0, 0), (TRAIN - 1, TRAIN - 1), (0, 3 * FREIHAND_TRAIN_UNIQUE)]
    assert [ds.locate(i) for i in (0, TRAIN - 1, TRAIN)] == expected


def test_plain_sample_matches_files(synthetic_root: Path) -> None:  # noqa: F811
    ds = FreiHANDDataset(synthetic_root)
    sample = ds[TRAIN + 2]  # version "hom" of unique sample 2
    image = cv2.imread(str(synthetic_root / "training" / "rgb" / f"{2 + FREIHAND_TRAIN_UNIQUE:08d}.jpg"))
    rgb = sample["image"].numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    assert np.abs(rgb * 255 - image[..., ::-1]).max() < 0.01
    assert np.allclose(sample["K"].numpy(), _json(synthetic_root, "training_K")[2], atol=1e-4)
    assert np.allclose(sample["vertices"].numpy(), _json(synthetic_root, "training_verts")[2], atol=1e-6)
    mano = np.asarray(_json(synthetic_root, "training_mano")[2][0])
    assert np.allclose(sample["global_orient"].numpy(), mano[:3], atol=1e-6)
    assert np.allclose(sample["hand_pose"].numpy(), mano[3:48], atol=1e-6)
    assert np.allclose(sample["betas"].numpy(), mano[48:58], atol=1e-6)


def test_keypoints_consistent_with_K_and_3d(synthetic_root: Path, hand_model) -> None:  # noqa: F811
    torch.manual_seed(0)
    ds = FreiHANDDataset(synthetic_root, augment=STRONG, input_size=192)
    for i in range(len(ds)):
        s = ds[i]
        uv = project(s["keypoints3d"][None].double(), s["K"][None].double())[0]
        assert (pixels_to_normalized(uv, 192) - s["keypoints2d"]).abs().max() * 96 < 0.5  # pixels
        assert torch.allclose(s["keypoints3d_rel"], s["keypoints3d"] - s["keypoints3d"][9], atol=1e-6)
        assert torch.allclose(s["vertices_rel"], s["vertices"] - s["keypoints3d"][9], atol=1e-6)
        posed = hand_model(s["global_orient"][None].double(), s["hand_pose"][None].double(), s["betas"][None].double())
        rel = posed.vertices[0] - posed.keypoints[0, 9]
        assert (rel - s["vertices_rel"].double()).abs().max() < 1e-5  # augmented orientation = augmented mesh


def test_mask_follows_augmentation(synthetic_root: Path) -> None:  # noqa: F811
    torch.manual_seed(1)
    ds = FreiHANDDataset(synthetic_root, augment=STRONG, return_mask=True)
    for i in range(0, len(ds), 5):
        s = ds[i]
        px = ((s["keypoints2d"] + 1) * 112).round().long().clamp(0, 223)
        assert s["mask"][px[:, 1], px[:, 0]].mean() > 0.85  # the keypoints lie on the hand


def test_augmentation_is_random_but_reproducible(synthetic_root: Path) -> None:  # noqa: F811
    ds = FreiHANDDataset(synthetic_root, augment=STRONG)
    torch.manual_seed(3)
    ds._rng = None
    a = ds[0]["K"]
    b = ds[0]["K"]
    torch.manual_seed(3)
    ds._rng = None
    assert not torch.equal(a, b) and torch.equal(ds[0]["K"], a)


def test_evaluation_split(synthetic_root: Path) -> None:  # noqa: F811
    ds = FreiHANDDataset(synthetic_root, "evaluation", versions=("hom",))  # versions are ignored
    assert len(ds) == EVAL and ds.has_gt
    s = ds[EVAL - 1]
    assert int(s["index"]) == int(s["image_id"]) == EVAL - 1 and bool(s["has_gt"])


def test_evaluation_split_without_ground_truth(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "fresh"
    (root / "evaluation").mkdir(parents=True)
    shutil.copytree(synthetic_root / "evaluation" / "rgb", root / "evaluation" / "rgb")
    for name in ("evaluation_K.json", "evaluation_scale.json"):
        shutil.copy(synthetic_root / name, root / name)
    ds = FreiHANDDataset(root, "evaluation")
    assert len(ds) == EVAL and not ds.has_gt
    s = ds[1]
    assert not bool(s["has_gt"]) and s["image"].abs().sum() > 0
    assert all(s[k].abs().sum() == 0 for k in ("keypoints3d", "vertices", "keypoints2d", "hand_pose", "betas"))
    shutil.copy(synthetic_root / "evaluation_xyz.json", root / "evaluation_xyz.json")  # partial ground truth
    with pytest.raises(DataError, match="evaluation_mano.json"):
        FreiHANDDataset(root, "evaluation")


# ---- bad input ----


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found: .*nowhere.*training/rgb"):
        FreiHANDDataset(tmp_path / "nowhere")


def test_missing_json(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    (root / "training_xyz.json").unlink()
    with pytest.raises(DataError, match=r"training_xyz\.json.*FreiHAND root"):
        FreiHANDDataset(root)
    shutil.rmtree(root / "training" / "mask")
    with pytest.raises(DataError, match=r"training/mask"):
        FreiHANDDataset(root, return_mask=True)


def test_mismatched_json_lengths(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    (root / "training_verts.json").write_text(json.dumps(_json(root, "training_verts")[:-1]))
    with pytest.raises(DataError) as err:
        FreiHANDDataset(root)
    msg = str(err.value)
    assert "training_K.json" in msg and "training_verts.json" in msg and str(TRAIN) in msg and str(TRAIN - 1) in msg


def test_nan_mano_annotation(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    mano = _json(root, "training_mano")
    mano[4][0][10] = float("nan")
    (root / "training_mano.json").write_text(json.dumps(mano))  # writes NaN, as Python's json does
    with pytest.raises(DataError, match=r"training_mano\.json at index 4"):
        FreiHANDDataset(root)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_bad_jpeg(synthetic_root: Path, tmp_path: Path, damage: str) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    bad = root / "training" / "rgb" / f"{1 + FREIHAND_TRAIN_UNIQUE:08d}.jpg"
    if damage == "garbage":
        bad.write_bytes(b"this is not a jpeg" * 10)
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:2000])
    else:
        bad.unlink()
    ds = FreiHANDDataset(root)
    with pytest.raises(DataError, match=bad.name):
        ds[TRAIN + 1]
    skipping = FreiHANDDataset(root, skip_bad=True)
    with pytest.warns(UserWarning, match=bad.name):
        s = skipping[TRAIN + 1]
    assert int(s["index"]) == TRAIN + 2 and skipping.skipped == 1
    skipping[TRAIN + 3]
    assert skipping.skipped == 1
    # through the DataModule (worker processes count into the same total), reported at teardown
    dm = FreiHANDDataModule(str(root), batch_size=TRAIN, num_workers=1, skip_bad=True, augment=None, drop_last=False)
    list(dm.train_dataloader())  # the worker process warns on its own stderr
    assert dm.skipped == {"train": 1, "val": 0}
    with pytest.warns(UserWarning, match=r"skipped bad samples .*1 in train"):
        dm.teardown("fit")


# ---- image folder and data module ----


def test_image_folder(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "crops"
    folder.mkdir()
    shutil.copy(synthetic_root / "evaluation" / "rgb" / "00000000.jpg", folder / "a.jpg")
    cv2.imwrite(str(folder / "b.png"), np.full((100, 160, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    ds = ImageFolderDataset(folder, input_size=128)
    assert len(ds) == 2 and [p.name for p in ds.files] == ["a.jpg", "b.png"]
    s = ds[1]
    assert s["image"].shape == (3, 128, 128) and not bool(s["has_gt"])
    assert np.isclose(float(s["K"][0, 0]), 500 * 160 / 224 * 128 / 160, rtol=1e-5)
    fixed = ImageFolderDataset(folder, 224, K=[[600, 0, 112], [0, 600, 112], [0, 0, 1]])
    assert torch.allclose(fixed[0]["K"], torch.tensor([[600.0, 0, 112], [0, 600, 112], [0, 0, 1]]))
    with pytest.raises(DataError, match="no images"):
        ImageFolderDataset(tmp_path)


@pytest.mark.parametrize("workers", [0, 1])
def test_datamodule_loaders(synthetic_root: Path, tmp_path: Path, workers: int) -> None:  # noqa: F811
    dm = FreiHANDDataModule(str(synthetic_root), batch_size=4, num_workers=workers, val_limit=3,
                            predict_root=str(synthetic_root / "evaluation" / "rgb"))  # fmt: skip
    dm.setup("fit")
    train = dm.train_dataloader()
    assert train.persistent_workers == (workers > 0)
    assert train.prefetch_factor == (dm.prefetch_factor if workers else None)
    batches = list(train)
    assert len(batches) == (4 * TRAIN) // 4
    b = batches[0]
    assert b["image"].shape == (4, 3, 224, 224) and b["vertices_rel"].shape == (4, 778, 3)
    assert b["has_gt"].all()
    val = next(iter(dm.val_dataloader()))
    assert val["index"].tolist() == [0, 1, 2]
    test = next(iter(dm.test_dataloader()))
    assert test["index"].tolist() == [0, 1, 2, 3]
    pred = next(iter(dm.predict_dataloader()))
    assert pred["image"].shape == (4, 3, 224, 224) and not pred["has_gt"].any()


def test_datamodule_from_config(synthetic_root: Path) -> None:  # noqa: F811
    """LightningCLI configures the DataModule from YAML through jsonargparse."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(FreiHANDDataModule, "data")
    cfg = parser.parse_args(["--data.root", str(synthetic_root), "--data.versions", "[gs, hom]",
                             "--data.augment.rotation_prob", "0.5", "--data.num_workers", "0"])  # fmt: skip
    dm = parser.instantiate_classes(cfg).data
    assert dm.augment == AugmentConfig(rotation_prob=0.5) and dm.versions == ("gs", "hom")
    default = parser.instantiate_classes(parser.parse_args(["--data.root", str(synthetic_root)])).data
    assert default.augment == AugmentConfig()
    none = parser.instantiate_classes(parser.parse_args(["--data.root", ".", "--data.augment", "null"])).data
    assert none.augment is None


def test_datamodule_synthetic_spec_from_yaml(
    synthetic_root: Path,  # noqa: F811
    standin_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`data.synthetic` in a YAML config makes prepare_data call ensure_synthetic(root, train, eval, seed, mano)."""
    from jsonargparse import ArgumentParser

    from handmesh.data import datamodule, synthetic

    parser = ArgumentParser()
    parser.add_class_arguments(FreiHANDDataModule, "data")
    yaml = f"data:\n  root: {synthetic_root}\n  synthetic: {{train: {TRAIN}, eval: {EVAL}, seed: 7}}\n"
    dm = parser.instantiate_classes(parser.parse_string(yaml)).data
    assert dm.synthetic == synthetic.SyntheticSpec(train=TRAIN, eval=EVAL, seed=7, mano_path=None)
    calls: list[tuple] = []
    monkeypatch.setattr(datamodule, "ensure_synthetic", lambda *a: calls.append(a))
    dm.prepare_data()
    assert calls == [(Path(synthetic_root), TRAIN, EVAL, 7, None)]
    plain = parser.instantiate_classes(parser.parse_string(f"data:\n  root: {synthetic_root}\n")).data
    assert plain.synthetic is None
    plain.prepare_data()
    assert len(calls) == 1  # no spec: nothing generated
    monkeypatch.undo()
    # the real call on the complete session set (same parameters) generates nothing
    marker = synthetic_root / SYNTHETIC_MARKER
    before = marker.stat().st_mtime_ns
    spec = synthetic.SyntheticSpec(train=TRAIN, eval=EVAL, seed=7, mano_path=str(standin_path))
    FreiHANDDataModule(str(synthetic_root), synthetic=spec).prepare_data()
    assert marker.stat().st_mtime_ns == before


def test_invalid_json(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    (root / "training_K.json").write_text("[[[1, 0, 0], [0, 1")  # a cut-off download
    with pytest.raises(DataError, match=r"training_K\.json"):
        FreiHANDDataset(root)
    (root / "training_K.json").write_text(json.dumps([[[1, 0], [0, 1]]] * TRAIN))  # entries of the wrong shape
    with pytest.raises(DataError, match=r"training_K\.json"):
        FreiHANDDataset(root)
