"""`python -m handmesh.evaluate` on a tiny FreiHAND-layout folder: table, --json, ground-truth cache reuse and
invalidation, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handmesh.data import json_cache
from handmesh.data.json_cache import cache_path
from handmesh.evaluate import evaluate_files, main
from handmesh.metrics.freihand import ALL_KEYS, OFFICIAL_KEYS, freihand_scores
from handmesh.submission import write_submission

N = 4


def _folder(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(N, 799, 3)) * 0.03 + np.array([0.0, 0.0, 0.7])
    pred = gt + rng.normal(size=gt.shape) * 0.004 + 0.005
    root.mkdir(parents=True, exist_ok=True)
    (root / "evaluation_xyz.json").write_text(json.dumps(gt[:, :21].tolist()))
    (root / "evaluation_verts.json").write_text(json.dumps(gt[:, 21:].tolist()))
    write_submission(root / "pred.zip", pred[:, :21], pred[:, 21:])
    return {"gt_xyz": gt[:, :21], "gt_verts": gt[:, 21:], "pred_xyz": pred[:, :21], "pred_verts": pred[:, 21:]}


def _expected(d: dict[str, np.ndarray]) -> dict[str, float]:
    return freihand_scores(d["pred_xyz"], d["pred_verts"], d["gt_xyz"], d["gt_verts"])


def test_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    data = _folder(tmp_path / "gt")
    out = tmp_path / "scores" / "scores.json"
    proc = subprocess.run(
        [sys.executable, "-m", "handmesh.evaluate", "--gt", str(tmp_path / "gt"), "--pred",
         str(tmp_path / "gt" / "pred.zip"), "--json", str(out)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = _expected(data)
    for key in ALL_KEYS:
        assert key in proc.stdout
    assert f"{expected['f_al_score_5']:.6f}" in proc.stdout and f"{expected['xyz_mean3d']:.6f}" in proc.stdout
    written = json.loads(out.read_text())
    assert list(written) == list(ALL_KEYS) and written == expected
    assert list(written)[:12] == list(OFFICIAL_KEYS)


def test_ground_truth_cache_is_reused_and_invalidated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "gt"
    data = _folder(root)
    pred = root / "pred.zip"
    first = evaluate_files(root, pred)
    cached = cache_path(root / "evaluation_verts.json", np.float64)
    assert cached is not None and cached.parent == root / ".handmesh_cache"

    # unchanged JSON: read from the cache, the JSON is not parsed again
    calls: list[Path] = []
    real_parse = json_cache.parse_json_array
    monkeypatch.setattr(json_cache, "parse_json_array", lambda p, dtype=np.float64: calls.append(p) or real_parse(p))
    assert evaluate_files(root, pred) == first and calls == []

    # changed JSON (new content, new size and time): parsed again, the numbers follow, the stale cache is dropped
    moved = data["gt_verts"] + 0.002
    (root / "evaluation_verts.json").write_text(json.dumps(moved.tolist()))
    again = evaluate_files(root, pred)
    assert calls == [root / "evaluation_verts.json"]
    assert again == _expected({**data, "gt_verts": moved}) and again != first
    assert len(list((root / ".handmesh_cache").glob("evaluation_verts.json.*.npy"))) == 1


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "gt"
    _folder(root)
    assert main(["--gt", str(tmp_path / "nowhere"), "--pred", str(root / "pred.zip")]) == 1
    assert "ground-truth folder not found" in capsys.readouterr().err

    other = tmp_path / "other"
    _folder(other, seed=1)
    (other / "evaluation_xyz.json").write_text(json.dumps(np.zeros((N + 1, 21, 3)).tolist()))
    assert main(["--gt", str(other), "--pred", str(root / "pred.zip")]) == 1
    err = capsys.readouterr().err
    assert "evaluation_xyz.json has 5 entries but" in err and "evaluation_verts.json has 4" in err

    (other / "evaluation_xyz.json").write_text(json.dumps(np.zeros((N, 20, 3)).tolist()))
    assert main(["--gt", str(other), "--pred", str(root / "pred.zip")]) == 1
    assert "expected 4 entries of shape 21x3" in capsys.readouterr().err

    write_submission(tmp_path / "short.json", np.zeros((N - 1, 21, 3)), np.zeros((N - 1, 778, 3)))
    assert main(["--gt", str(root), "--pred", str(tmp_path / "short.json")]) == 1
    assert "3 samples, expected 4" in capsys.readouterr().err

    (tmp_path / "notes.txt").write_text("in the way")  # --json under a file: the scores print, the write is refused
    assert (
        main(["--gt", str(root), "--pred", str(root / "pred.zip"), "--json", str(tmp_path / "notes.txt" / "s.json")])
        == 1
    )
    captured = capsys.readouterr()
    assert "f_al_score_5" in captured.out and "notes.txt is a file, not a folder" in captured.err


def test_the_evaluation_path_does_not_import_torch() -> None:
    """`python -m handmesh.evaluate` reads, validates and scores with numpy and compiled kernels only: importing
    torch would add ~1.5 s to every run."""
    code = "import sys, handmesh.evaluate, handmesh.submission; print(sorted(m for m in sys.modules if m == 'torch'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
