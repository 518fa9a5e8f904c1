"""Bad input that the older test files do not cover (docs/BAD_INPUT.md lists every case and its test).

Each test damages a private copy of the tiny synthetic set (or writes a small file) and asserts the error type,
that the message names the file and the problem, and, where something is written, that no partial file remains.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from synthetic_set import TRAIN, copy_set, synthetic_root  # noqa: F401 (fixture)

from handmesh.data import json_cache
from handmesh.data.errors import DataError, error_message
from handmesh.data.freihand import FreiHANDDataset
from handmesh.data.image_folder import ImageFolderDataset
from handmesh.data.image_io import read_image
from handmesh.data.layout import IMAGE_SIZE, SYNTHETIC_MARKER, image_size
from handmesh.evaluate import main as evaluate_main
from handmesh.mano.constants import FREIHAND_TRAIN_UNIQUE
from handmesh.mano.file import MANOFileError, load_mano_file
from handmesh.submission import SubmissionError, read_submission, write_submission


def _rgb(root: Path, index: int = 1, version: int = 0) -> Path:
    return root / "training" / "rgb" / f"{index + FREIHAND_TRAIN_UNIQUE * version:08d}.jpg"


def _mask(root: Path, index: int = 1) -> Path:
    return root / "training" / "mask" / f"{index:08d}.jpg"


def _load(root: Path, name: str) -> list:
    return json.loads((root / f"{name}.json").read_text())


def _dump(root: Path, name: str, obj: object) -> Path:
    path = root / f"{name}.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


# ---- annotation JSON ----


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"not valid JSON"),
        ('{"K": []}', r"expected a regular nested list of numbers.*a JSON dict"),
        (json.dumps([[["a", "b", "c"]] * 3] * TRAIN), r"expected a regular nested list of numbers"),
        (json.dumps([[[None, 0, 0], [0, 1, 0], [0, 0, 1]]] * TRAIN), r"expected a regular nested list of numbers"),
        (json.dumps([list(range(9))] * TRAIN), r"expected 6 entries of shape 3x3, got entries of shape 9"),
        ("[]", r"no samples \(an empty list\)"),
    ],
    ids=["zero-byte", "dict", "strings", "null", "K-flat-9", "empty-list"],
)
def test_malformed_annotation_json(synthetic_root: Path, tmp_path: Path, content: str, message: str) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    _dump(root, "training_K", content)
    with pytest.raises(DataError, match=r"training_K\.json: " + message):
        FreiHANDDataset(root)


def test_every_annotation_file_empty(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    for name in ("K", "mano", "xyz", "verts"):
        _dump(root, f"training_{name}", [])
    with pytest.raises(DataError, match=r"training_K\.json: no samples"):
        FreiHANDDataset(root)


def test_infinite_keypoint(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    xyz = _load(root, "training_xyz")
    xyz[3][5][2] = float("inf")
    xyz[4][0][0] = float("nan")
    _dump(root, "training_xyz", xyz)
    with pytest.raises(DataError, match=r"NaN/inf\) in .*training_xyz\.json at index 3 \(and 1 more\)"):
        FreiHANDDataset(root)


@pytest.mark.parametrize("damage", ["zeros", "focal<0", "last-row"])
def test_K_not_intrinsics(synthetic_root: Path, tmp_path: Path, damage: str) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    K = _load(root, "training_K")
    if damage == "zeros":
        K[2] = np.zeros((3, 3)).tolist()  # would divide by zero in the projection
    elif damage == "focal<0":
        K[2][0][0] = -K[2][0][0]
    else:
        K[2][2] = [0.0, 1.0, 0.0]
    _dump(root, "training_K", K)
    with pytest.raises(DataError, match=r"training_K\.json: entry 2 is not camera intrinsics"):
        FreiHANDDataset(root)


def test_evaluation_ground_truth_incomplete(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    (root / "evaluation_verts.json").unlink()
    with pytest.raises(DataError, match=r"missing annotation file\(s\) .*evaluation_verts\.json"):
        FreiHANDDataset(root, "evaluation")


# ---- folders and images ----


def test_missing_or_empty_rgb_folder(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    shutil.rmtree(root / "training" / "rgb")
    with pytest.raises(DataError, match=r"missing folder .*training/rgb"):
        FreiHANDDataset(root)
    (root / "training" / "rgb").mkdir()
    with pytest.raises(DataError, match=r"empty folder .*training/rgb .*\(no images\)"):
        FreiHANDDataset(root)


def _check_error_and_skip(root: Path, bad: Path, message: str, return_mask: bool = False) -> None:
    """DataError naming `bad` for sample 1; with skip_bad, sample 2 instead and one counted skip."""
    with pytest.raises(DataError) as err:
        FreiHANDDataset(root, return_mask=return_mask)[1]
    assert str(bad) in str(err.value) and re.search(message, str(err.value))
    skipping = FreiHANDDataset(root, return_mask=return_mask, skip_bad=True)
    with pytest.warns(UserWarning, match=r"skipping bad sample 1: .*" + bad.name):
        sample = skipping[1]
    assert int(sample["index"]) == 2 and skipping.skipped == 1


def test_zero_byte_jpeg(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    _rgb(root).write_bytes(b"")
    _check_error_and_skip(root, _rgb(root), "empty image file")


def test_image_of_the_wrong_size(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    image = cv2.imread(str(_rgb(root)))
    cv2.imwrite(str(_rgb(root)), cv2.resize(image, (448, 448)))  # a resized copy: K no longer fits
    _check_error_and_skip(root, _rgb(root), r"is 448x448 pixels, expected 224x224")


def test_image_size_comes_from_a_synthetic_marker(tmp_path: Path) -> None:
    """224 for a real FreiHAND root (no marker) or an unreadable marker; a synthetic set records its own size."""
    assert image_size(tmp_path) == IMAGE_SIZE == 224
    (tmp_path / SYNTHETIC_MARKER).write_text(json.dumps({"size": 128}))
    assert image_size(tmp_path) == 128
    (tmp_path / SYNTHETIC_MARKER).write_text("{not json")
    assert image_size(tmp_path) == 224


def test_missing_mask_file(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    _mask(root).unlink()
    FreiHANDDataset(root)[1]  # masks are only read when asked for
    _check_error_and_skip(root, _mask(root), "missing image file", return_mask=True)


def test_mask_of_the_wrong_size(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    cv2.imwrite(str(_mask(root)), np.zeros((100, 120), np.uint8))
    _check_error_and_skip(root, _mask(root), r"is 120x100 pixels, expected 224x224", return_mask=True)


def test_png_named_jpg_and_grayscale_jpeg_are_read(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    """Decoding goes by content: a PNG saved as .jpg and a one-channel JPEG are valid images of the right size."""
    root = copy_set(synthetic_root, tmp_path / "set")
    image = cv2.imread(str(_rgb(root, 1)))
    _rgb(root, 1).write_bytes(cv2.imencode(".png", image)[1].tobytes())
    cv2.imwrite(str(_rgb(root, 2)), cv2.cvtColor(cv2.imread(str(_rgb(root, 2))), cv2.COLOR_BGR2GRAY))
    assert read_image(_rgb(root, 1)).shape == (224, 224, 3)
    gray = read_image(_rgb(root, 2))
    assert gray.shape == (224, 224, 3) and (gray[..., 0] == gray[..., 2]).all()
    ds = FreiHANDDataset(root, augment=None)
    assert ds[1]["image"].shape == ds[2]["image"].shape == (3, 224, 224)


def test_non_image_with_a_jpg_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image at all")
    with pytest.raises(DataError, match=r"corrupt image file .*notes\.jpg: OpenCV cannot decode it \(not a JPEG"):
        read_image(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(DataError, match=r"cannot read image file .*notes\.jpg"):
        read_image(path)


def test_garbled_bytes_inside_a_complete_jpeg_are_not_detected(synthetic_root: Path, tmp_path: Path) -> None:  # noqa: F811
    """Known limitation: libjpeg decodes a JPEG with damaged entropy data (end marker intact) with only a warning
    on stderr, so such an image reaches training. The test pins this down so that a change is noticed."""
    root = copy_set(synthetic_root, tmp_path / "set")
    data = bytearray(_rgb(root).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(range(64))
    _rgb(root).write_bytes(bytes(data))
    assert read_image(_rgb(root)).shape == (224, 224, 3)


# ---- the parsed-JSON cache ----


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong-shape", "wrong-dtype", "folder"])
def test_corrupt_json_cache_is_parsed_again(synthetic_root: Path, tmp_path: Path, damage: str) -> None:  # noqa: F811
    root = copy_set(synthetic_root, tmp_path / "set")
    json_file = root / "training_K.json"
    expected = json_cache.load_json_array(json_file, np.float64, (3, 3))
    cached = json_cache.cache_path(json_file, np.float64)
    assert cached is not None and cached.parent.name == json_cache.CACHE_DIR_NAME
    if damage == "truncated":
        cached.write_bytes(cached.read_bytes()[:90])
    elif damage == "garbage":
        cached.write_bytes(b"\x00" * 200)
    elif damage == "wrong-shape":
        np.save(cached, np.zeros((TRAIN, 2, 2)))
    elif damage == "wrong-dtype":
        np.save(cached, expected.astype(np.float32))
    else:
        cached.unlink()
        cached.mkdir()
    again = json_cache.load_json_array(json_file, np.float64, (3, 3))
    assert again.dtype == np.float64
    np.testing.assert_array_equal(again, expected)
    assert len(FreiHANDDataset(root)) == 4 * TRAIN


def test_unusable_cache_folders(synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """`.handmesh_cache` cannot be made (a file has its name): the user cache folder is used; neither: no cache."""
    root = copy_set(synthetic_root, tmp_path / "set")
    (root / json_cache.CACHE_DIR_NAME).write_text("a file in the way")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    expected = json_cache.parse_json_array(root / "training_K.json")
    np.testing.assert_array_equal(json_cache.load_json_array(root / "training_K.json", np.float64), expected)
    assert tmp_path / "xdg" in json_cache.cache_path(root / "training_K.json", np.float64).parents
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "training_K.json"))  # not a folder either
    assert json_cache.load_json_array(root / "training_xyz.json", np.float64).shape == (TRAIN, 21, 3)
    assert json_cache.cache_path(root / "training_xyz.json", np.float64) is None


# ---- image folders and the predict command ----


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"image folder not found: .*nowhere"):
        ImageFolderDataset(tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no images \(\.jpg.*\) in folder "):
        ImageFolderDataset(tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((50, 50, 3), np.uint8))
    for K in ([1, 2], [[0, 0, 0], [0, 0, 0], [0, 0, 1]], "K"):
        with pytest.raises(ValueError, match=r"K must be a .*3x3"):
            ImageFolderDataset(tmp_path, K=K)


@pytest.fixture
def stub_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """`handmesh.predict.load_model` returns a stand-in module: the data errors come before the network runs."""
    from handmesh import predict

    stub = SimpleNamespace(hparams=SimpleNamespace(input_size=224), net=torch.nn.Identity())
    monkeypatch.setattr(predict, "load_model", lambda ckpt, mano=None: stub)
    monkeypatch.setattr(predict, "prepare_for_inference", lambda net, **kwargs: net)


def _predict(tmp_path: Path, data: Path, *extra: str) -> int:
    from handmesh.predict import main

    ckpt = tmp_path / "model.ckpt"
    ckpt.touch()
    return main(["--ckpt", str(ckpt), "--data", str(data), "--out", str(tmp_path / "out"), *extra])


@pytest.mark.usefixtures("stub_model")
def test_predict_on_an_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "list.txt").write_text("a.jpg")
    assert _predict(tmp_path, tmp_path / "crops") == 2
    assert "error: no images" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.usefixtures("stub_model")
@pytest.mark.parametrize("workers", ["0", "1"])
def test_predict_on_a_folder_with_a_corrupt_image(
    synthetic_root: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workers: str,
) -> None:
    crops = tmp_path / "crops"
    crops.mkdir()
    shutil.copy(synthetic_root / "evaluation" / "rgb" / "00000000.jpg", crops / "a.jpg")
    (crops / "b.jpg").write_bytes((crops / "a.jpg").read_bytes()[:1500])  # a cut-off download
    assert _predict(tmp_path, crops, "--workers", workers) == 2
    err = capsys.readouterr().err
    assert "b.jpg: truncated JPEG" in err and "Traceback" not in err  # a worker's traceback is stripped
    assert not (tmp_path / "out").exists()  # nothing written


def test_predict_missing_or_bad_checkpoint_data_or_output(
    synthetic_root: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from handmesh.predict import CheckpointError, load_model, main

    (tmp_path / "out").write_text("a file")
    ckpt = tmp_path / "model.ckpt"
    assert main(["--ckpt", str(ckpt), "--data", str(synthetic_root), "--out", str(tmp_path / "preds")]) == 2
    assert "checkpoint not found: " + str(ckpt) in capsys.readouterr().err
    ckpt.write_bytes(b"not a checkpoint" * 8)
    assert main(["--ckpt", str(ckpt), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "preds")]) == 2
    assert "data folder not found: " + str(tmp_path / "nowhere") in capsys.readouterr().err
    args = ["--ckpt", str(ckpt), "--data", str(synthetic_root)]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "out is a file, not a folder" in capsys.readouterr().err and (tmp_path / "out").read_text() == "a file"
    assert main([*args, "--out", str(tmp_path / "out" / "run1")]) == 2  # a file in the way further up
    assert f"cannot write to {tmp_path / 'out' / 'run1'}: {tmp_path / 'out'} is a file" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match=r"model\.ckpt: cannot load it as a handmesh checkpoint"):
        load_model(ckpt)
    assert main([*args, "--out", str(tmp_path / "preds")]) == 2
    assert "model.ckpt: cannot load it" in capsys.readouterr().err and not (tmp_path / "preds").exists()


def test_error_message_strips_a_worker_traceback() -> None:
    wrapped = DataError(
        "Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\nhandmesh.data.errors.DataError: missing image file: /data/a.jpg\n'
    )
    assert error_message(wrapped) == "missing image file: /data/a.jpg"
    assert error_message(DataError("plain")) == "plain"


# ---- the MANO file ----


def _standin_dict(standin_path: Path) -> dict:
    return pickle.loads(standin_path.read_bytes(), encoding="latin1")


def test_mano_file_empty_truncated_or_a_folder(standin_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(b"")
    with pytest.raises(MANOFileError, match=r"MANO_RIGHT\.pkl is not a MANO model pickle \(Ran out of input\)"):
        load_mano_file(path)
    path.write_bytes(standin_path.read_bytes()[:100_000])
    with pytest.raises(MANOFileError, match=r"MANO_RIGHT\.pkl is not a MANO model pickle"):
        load_mano_file(path)
    with pytest.raises(MANOFileError, match=r"is a folder; pass the MANO model file itself .*MANO_LEFT\.pkl"):
        load_mano_file(tmp_path, side="left")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("posedirs", lambda d: np.full_like(d["posedirs"], np.nan), r"'posedirs' holds NaN or infinite values"),
        ("weights", lambda d: d["weights"].astype(str), r"'weights' holds <U\d+ values, not numbers"),
        ("f", lambda d: d["f"] + 778, r"face vertex ids in 'f' must be integers in \[0, 778\)"),
        ("kintree_table", lambda d: d["kintree_table"][:, ::-1].copy(), r"joint tree 'kintree_table'.* is not MANO's"),
    ],
    ids=["nan", "non-numeric", "face-ids", "joint-tree"],
)
def test_mano_file_wrong_values(standin_path: Path, tmp_path: Path, key: str, value, message: str) -> None:
    data = _standin_dict(standin_path)
    data[key] = value(data)
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(MANOFileError, match=r"MANO_RIGHT\.pkl.*" + message):
        load_mano_file(path)


# ---- submissions ----


def _pred(n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    verts = np.random.default_rng(0).normal(size=(n, 778, 3)) * 0.03 + np.array([0.0, 0.0, 0.7])
    return verts[:, :21].copy(), verts


def test_submission_corrupt_zip_member_and_folder(tmp_path: Path) -> None:
    xyz, verts = _pred()
    path = write_submission(tmp_path / "pred.zip", xyz, verts)
    data = bytearray(path.read_bytes())
    data[100:400] = bytes(300)  # inside the compressed pred.json; the zip directory is intact
    path.write_bytes(bytes(data))
    assert zipfile.is_zipfile(path)
    with pytest.raises(SubmissionError, match=r"pred\.zip: cannot read the zip file, it is corrupt"):
        read_submission(path)
    with pytest.raises(SubmissionError, match=r"a folder, not a submission file"):
        read_submission(tmp_path)


def test_submission_write_of_non_numbers_names_the_file(tmp_path: Path) -> None:
    _, verts = _pred()
    with pytest.raises(SubmissionError, match=r"pred\.json: predictions must be numeric arrays"):
        write_submission(tmp_path / "pred.json", [[1, 2], [3]], verts)
    assert list(tmp_path.iterdir()) == []


# ---- the evaluate command ----


def _gt_folder(root: Path, n: int = 3) -> Path:
    xyz, verts = _pred(n)
    root.mkdir(parents=True, exist_ok=True)
    _dump(root, "evaluation_xyz", xyz.tolist())
    _dump(root, "evaluation_verts", verts.tolist())
    write_submission(root / "pred.json", xyz + 0.001, verts + 0.001)
    return root


def test_evaluate_cli_bad_ground_truth_and_prediction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _gt_folder(tmp_path / "gt")
    pred = str(root / "pred.json")
    assert evaluate_main(["--gt", str(root), "--pred", str(root / "missing.zip")]) == 1
    assert "missing.zip: submission file not found" in capsys.readouterr().err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert evaluate_main(["--gt", str(empty), "--pred", pred]) == 1
    assert "evaluation_xyz.json: file not found" in capsys.readouterr().err

    verts = _load(root, "evaluation_verts")
    verts[1][7][0] = float("nan")
    _dump(root, "evaluation_verts", verts)
    assert evaluate_main(["--gt", str(root), "--pred", pred]) == 1
    assert "evaluation_verts.json: holds NaN or inf values" in capsys.readouterr().err


def test_evaluate_cli_unwritable_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _gt_folder(tmp_path / "gt")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    out = tmp_path / "blocker" / "scores.json"
    assert evaluate_main(["--gt", str(root), "--pred", str(root / "pred.json"), "--json", str(out)]) == 1
    assert f"cannot write {out}" in capsys.readouterr().err
    assert (tmp_path / "blocker").read_text() == "a file where a folder should be"


@pytest.mark.parametrize("bad", ["data", "mano"])
def test_fit_cli_reports_bad_data_or_mano_file_in_one_line(
    synthetic_root: Path,  # noqa: F811
    standin_path: Path,
    tmp_path: Path,
    bad: str,
) -> None:
    import subprocess
    import sys

    from tiny_config import tiny_config

    root, mano = copy_set(synthetic_root, tmp_path / "set"), standin_path
    if bad == "data":
        (root / "training_K.json").write_text("[[[1, 0, 0], [0, 1")  # a cut-off annotation file
        named = "training_K.json"
    else:
        mano = tmp_path / "MANO_RIGHT.pkl"  # not there (and not a stand-in name, so nothing is made)
        named = "MANO_RIGHT.pkl"
    config = tiny_config(tmp_path, root, mano)
    proc = subprocess.run([sys.executable, "-m", "handmesh.fit", "--config", str(config)], capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert proc.returncode == 1
    assert "handmesh.fit: error:" in proc.stderr and named in proc.stderr and "Traceback" not in proc.stderr
    assert not list((tmp_path / "run").glob("**/*.ckpt"))  # nothing trained, nothing written
