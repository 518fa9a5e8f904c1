"""load_mano_file: chumpy-free reading of the official layout and every error it promises."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from handmesh.mano.file import MANOFileError, detect_side, load_mano_file
from handmesh.mano.standin import build_standin


def _fake_chumpy_modules() -> dict[str, types.ModuleType]:
    """Modules named like chumpy's, with classes that pickle the way chumpy's do (by __dict__)."""
    chumpy, ch, reordering = (types.ModuleType(n) for n in ("chumpy", "chumpy.ch", "chumpy.reordering"))

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()

    class Select(Ch):
        def __init__(self, a, idxs, preferred_shape):
            self.a, self.idxs, self.preferred_shape = a, idxs, preferred_shape

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    Select.__module__, Select.__qualname__ = "chumpy.reordering", "Select"
    ch.Ch, reordering.Select = Ch, Select
    chumpy.ch, chumpy.reordering = ch, reordering
    return {"chumpy": chumpy, "chumpy.ch": ch, "chumpy.reordering": reordering}


def test_chumpy_objects_resolve_to_arrays(tmp_path: Path) -> None:
    data = build_standin("right")
    mods = _fake_chumpy_modules()
    sys.modules.update(mods)
    try:
        Ch, Select = mods["chumpy.ch"].Ch, mods["chumpy.reordering"].Select
        raw = dict(data)
        # shapedirs as Select over a Ch holding a permuted flat copy; v_template as a plain Ch.
        flat = data["shapedirs"].ravel()
        perm = np.random.default_rng(0).permutation(flat.size)
        base = np.empty_like(flat)
        base[perm] = flat
        raw["shapedirs"] = Select(Ch(base), perm, data["shapedirs"].shape)
        raw["v_template"] = Ch(data["v_template"])
        raw["J_regressor"] = sp.csc_matrix(data["J_regressor"])
        path = tmp_path / "chumpy_like.pkl"
        with path.open("wb") as fh:
            pickle.dump(raw, fh, protocol=2)
    finally:
        for name in mods:
            sys.modules.pop(name)
    assert "chumpy" not in sys.modules
    loaded = load_mano_file(path)
    np.testing.assert_array_equal(loaded["shapedirs"], data["shapedirs"])
    np.testing.assert_array_equal(loaded["v_template"], data["v_template"])
    np.testing.assert_array_equal(loaded["J_regressor"], sp.csc_matrix(data["J_regressor"]).toarray())
    assert isinstance(loaded["J_regressor"], np.ndarray)
    assert "chumpy" not in sys.modules


def test_standin_loads_and_is_labelled(standin_path: Path) -> None:
    data = load_mano_file(standin_path, side="right")
    assert data["is_standin"] and data["side"] == "right"
    assert data["f"].dtype == np.int64 and data["J_regressor"].shape == (16, 778)


def test_missing_file_says_where_to_get_and_put_it(tmp_path: Path) -> None:
    with pytest.raises(MANOFileError) as err:
        load_mano_file(tmp_path / "MANO_RIGHT.pkl")
    msg = str(err.value)
    assert "mano.is.tue.mpg.de" in msg and "data/mano/MANO_RIGHT.pkl" in msg and str(tmp_path) in msg


def test_not_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_text("this is not a pickle")
    with pytest.raises(MANOFileError, match="not a MANO model"):
        load_mano_file(path)


def test_missing_keys_and_wrong_shapes(tmp_path: Path) -> None:
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"v_template": np.zeros((778, 3))}))
    with pytest.raises(MANOFileError, match="missing keys"):
        load_mano_file(path)
    body = build_standin("right")
    body["v_template"] = np.zeros((6890, 3))
    path.write_bytes(pickle.dumps(body))
    with pytest.raises(MANOFileError, match="body model"):
        load_mano_file(path)
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(MANOFileError, match="list"):
        load_mano_file(path)


def test_disallowed_global_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            import os

            return (os.getcwd, ())

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(MANOFileError, match="not allowed"):
        load_mano_file(path)


def test_wrong_hand_is_refused(standin_path: Path, standin_left_path: Path) -> None:
    assert detect_side(load_mano_file(standin_left_path)) == "left"
    with pytest.raises(MANOFileError, match="LEFT-hand .* right hand was asked"):
        load_mano_file(standin_left_path, side="right")
    with pytest.raises(MANOFileError, match="RIGHT-hand .* left hand was asked"):
        load_mano_file(standin_path, side="left")
