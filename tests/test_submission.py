"""Submission files: round trip of pred.json / pred.zip, and every validation error with a clear message."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.submission import SubmissionError, read_submission, write_submission


def _pred(n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    verts = rng.normal(size=(n, 778, 3)) * 0.03 + np.array([0.0, 0.0, 0.7])
    return verts[:, :21].copy(), verts


def _write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize("name", ["pred.json", "pred.zip"])
def test_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    xyz, verts = _pred()
    path = write_submission(tmp_path / name, torch.from_numpy(xyz), verts, expected_count=3)
    assert path == tmp_path / name and path.is_file()
    back_xyz, back_verts = read_submission(path, expected_count=3)
    assert back_xyz.dtype == np.float64
    np.testing.assert_array_equal(back_xyz, xyz)
    np.testing.assert_array_equal(back_verts, verts)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_zip_holds_pred_json_at_its_root_in_freihand_format(tmp_path: Path) -> None:
    xyz, verts = _pred(2)
    write_submission(tmp_path / "pred.zip", xyz.astype(np.float32), verts.astype(np.float32))
    with zipfile.ZipFile(tmp_path / "pred.zip") as zf:
        assert zf.namelist() == ["pred.json"]
        data = json.loads(zf.read("pred.json"))
    assert len(data) == 2 and np.asarray(data[0]).shape == (2, 21, 3) and np.asarray(data[1]).shape == (2, 778, 3)
    np.testing.assert_array_equal(np.asarray(data[1]), verts.astype(np.float32))  # float32 values kept exactly


def test_reads_files_written_by_others(tmp_path: Path) -> None:
    """Indented JSON, integers and a zip written with `zip -j` style names are read through the general path."""
    xyz, verts = _pred(1)
    path = tmp_path / "pred.json"
    path.write_text(json.dumps([xyz.tolist(), verts.tolist()], indent=2))
    np.testing.assert_array_equal(read_submission(path)[1], verts)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.write(path, "pred.json")
    np.testing.assert_array_equal(read_submission(tmp_path / "other.zip")[0], xyz)


def test_write_validation_errors(tmp_path: Path) -> None:
    xyz, verts = _pred()
    out = tmp_path / "pred.zip"
    cases = [
        ((xyz, verts, 3960), "3 samples, expected 3960"),
        ((xyz[:2], verts, None), "2 keypoint entries but 3 vertex entries"),
        ((xyz[:, :20], verts, None), r"xyz \(keypoints\) must have shape \(N, 21, 3\)"),
        ((xyz, verts[:, :, :2], None), r"verts \(vertices\) must have shape \(N, 778, 3\)"),
        ((xyz[:0], verts[:0], None), "empty submission"),
        ((xyz * 1000, verts * 1000, None), "must be in metres.*looks like millimetres"),
        ((xyz + 100, verts + 100, None), "not plausible in metres"),
    ]
    for (x, v, count), message in cases:
        with pytest.raises(SubmissionError, match=message):
            write_submission(out, x, v, expected_count=count)
    for value in (np.nan, np.inf):
        bad = verts.copy()
        bad[1, 7, 0] = value
        with pytest.raises(SubmissionError, match=r"verts \(vertices\) holds NaN or inf in 1 samples \(first: \[1\]\)"):
            write_submission(out, xyz, bad)
    with pytest.raises(SubmissionError, match=r"written as \.json \(pred\.json\) or \.zip"):
        write_submission(tmp_path / "pred.txt", xyz, verts)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xyz, verts = _pred()
    path = write_submission(tmp_path / "pred.json", xyz, verts)
    before = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # killed between writing and renaming

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_submission(path, xyz + 0.01, verts + 0.01)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["pred.json"]


def test_unwritable_destinations_are_named(tmp_path: Path) -> None:
    xyz, verts = _pred()
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(
        SubmissionError, match=r"pred\.json: cannot write the submission \(.*notes\.txt is a file, not a folder"
    ):
        write_submission(tmp_path / "notes.txt" / "run" / "pred.json", xyz, verts)
    (tmp_path / "pred.zip").mkdir()
    with pytest.raises(SubmissionError, match=r"pred\.zip: cannot write the submission \(.*pred\.zip is a folder\)"):
        write_submission(tmp_path / "pred.zip", xyz, verts)
    assert (tmp_path / "notes.txt").read_text() == "a file, not a folder" and list(
        (tmp_path / "pred.zip").iterdir()
    ) == []


def test_read_validation_errors(tmp_path: Path) -> None:
    xyz, verts = _pred()
    good = [xyz.tolist(), verts.tolist()]
    with pytest.raises(SubmissionError, match="submission file not found"):
        read_submission(tmp_path / "missing.json")
    with pytest.raises(SubmissionError, match="pred.json: 3 samples, expected 4"):
        read_submission(_write_json(tmp_path / "pred.json", good), expected_count=4)
    with pytest.raises(SubmissionError, match="not valid JSON"):
        (tmp_path / "broken.json").write_text(json.dumps(good)[:-10])
        read_submission(tmp_path / "broken.json")
    with pytest.raises(SubmissionError, match=r"expected a JSON list of two lists"):
        read_submission(_write_json(tmp_path / "three.json", [*good, []]))
    with pytest.raises(SubmissionError, match="not a regular list of numbers"):
        ragged = [xyz.tolist(), [*verts.tolist()[:2], verts[2, :700].tolist()]]
        read_submission(_write_json(tmp_path / "ragged.json", ragged))
    with pytest.raises(SubmissionError, match="looks like millimetres"):
        read_submission(_write_json(tmp_path / "mm.json", [(xyz * 1000).tolist(), (verts * 1000).tolist()]))
    nan = [xyz.tolist(), verts.tolist()]
    nan[1][0][0][0] = float("nan")
    with pytest.raises(SubmissionError, match="holds NaN or inf"):
        read_submission(_write_json(tmp_path / "nan.json", nan))

    with zipfile.ZipFile(tmp_path / "folder.zip", "w") as zf:
        zf.writestr("results/pred.json", json.dumps(good))
    with pytest.raises(SubmissionError, match=r"must be at the root of the zip, found 'results/pred.json'"):
        read_submission(tmp_path / "folder.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("predictions.json", json.dumps(good))
    with pytest.raises(SubmissionError, match=r"no pred.json in the zip \(it holds \['predictions.json'\]\)"):
        read_submission(tmp_path / "other.zip")
    (tmp_path / "fake.zip").write_bytes(b"not a zip at all")
    with pytest.raises(SubmissionError, match="fake.zip: not a valid zip file"):
        read_submission(tmp_path / "fake.zip")
