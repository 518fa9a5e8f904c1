"""handmesh.atomic: a write either completes or leaves the previous file (and no temporary file) behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from handmesh.atomic import atomic_path, atomic_write, file_in_the_way


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "out" / "scores.json", b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".scores.") and tmp.suffix == ".json"
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["scores.json"]


def test_the_result_is_an_ordinary_readable_file(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "a" / "b" / "mesh.obj", b"v 0 0 0\n")  # folders are created
    assert target.read_bytes() == b"v 0 0 0\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not the private mode of the temporary file


def test_obstacles_are_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert file_in_the_way(tmp_path / "notes.txt" / "a" / "b") == tmp_path / "notes.txt"
    assert file_in_the_way(tmp_path / "new" / "folder") is None
    with pytest.raises(NotADirectoryError, match="notes.txt is a file, not a folder"):
        atomic_write(tmp_path / "notes.txt" / "out.json", b"{}")
    (tmp_path / "taken.json").mkdir()
    with pytest.raises(IsADirectoryError, match="taken.json is a folder"):
        atomic_write(tmp_path / "taken.json", b"{}")
    assert (tmp_path / "notes.txt").read_text() == "x"
