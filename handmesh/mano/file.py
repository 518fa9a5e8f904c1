"""Read the official MANO v1.2 model pickle without chumpy.

`MANO_RIGHT.pkl` is a Python 2 pickle whose `shapedirs` (and sometimes other arrays) are chumpy
objects. chumpy does not import on NumPy >= 1.24 / Python 3.11, so we unpickle with a restricted
`Unpickler`: only the globals a MANO file needs are allowed, chumpy and scipy.sparse classes are
replaced by small stand-ins that keep their pickled state, and those are resolved to numpy arrays
afterwards. The result is a dict of plain numpy arrays with every shape checked.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import copyreg
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.mano.constants import MANO_PARENTS, NUM_BETAS, NUM_FACES, NUM_JOINTS, NUM_POSE_PARAMS, NUM_VERTICES

log = logging.getLogger(__name__)

DEFAULT_MANO_PATH = Path("data/mano/MANO_RIGHT.pkl")
MANO_URL = "https://mano.is.tue.mpg.de"

# Key -> expected shape (None: any length on that axis).
EXPECTED_SHAPES: dict[str, tuple[int | None, ...]] = {
    "v_template": (NUM_VERTICES, 3),
    "f": (NUM_FACES, 3),
    "J_regressor": (NUM_JOINTS, NUM_VERTICES),
    "weights": (NUM_VERTICES, NUM_JOINTS),
    "posedirs": (NUM_VERTICES, 3, (NUM_JOINTS - 1) * 9),
    "shapedirs": (NUM_VERTICES, 3, NUM_BETAS),
    "kintree_table": (2, NUM_JOINTS),
    "hands_components": (NUM_POSE_PARAMS, NUM_POSE_PARAMS),
    "hands_mean": (NUM_POSE_PARAMS,),
}
OPTIONAL_KEYS = ("hands_coeffs", "J", "bs_style", "bs_type", "handmesh_standin")


class MANOFileError(ValueError):
    """A missing, unreadable or wrong MANO model file; the message says what to do."""


class _PickledObject:
    """Stand-in for a class we do not import (chumpy, scipy.sparse): keeps the pickled state."""

    _module = ""
    _name = ""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.__dict__["_state"] = state if isinstance(state, dict) else {"state": state}


def _stand_in_class(module: str, name: str) -> type:
    return type(name, (_PickledObject,), {"_module": module, "_name": name})


def _numpy_globals() -> dict[tuple[str, str], Any]:
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
        table[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # pickle protocol 5 arrays
        table[(mod, "_frombuffer")] = np.frombuffer(b"\0" * 8).__reduce_ex__(5)[0]
    return table


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    **_numpy_globals(),
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("_codecs", "encode"): codecs.encode,  # bytes pickled by Python 3 at protocol 2
    ("builtins", "object"): object,
    ("builtins", "set"): set,  # harmless containers that chumpy objects may hold in their state
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
}


class _MANOUnpickler(pickle.Unpickler):
    """Allows only the globals a MANO pickle uses; chumpy/scipy classes become stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (copy_reg, __builtin__) -> Python 3 names, as pickle itself does.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module.split(".")[0] in ("chumpy", "scipy"):
            return _stand_in_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a MANO model file")


def _sparse_to_dense(obj: _PickledObject) -> np.ndarray:
    s = obj._state
    data, indices, indptr = (np.asarray(s[k]) for k in ("data", "indices", "indptr"))
    shape = tuple(s.get("_shape", s.get("shape")))
    out = np.zeros(shape, dtype=np.float64)
    fmt = obj._name[:3]
    if fmt not in ("csc", "csr"):
        raise MANOFileError(f"unsupported sparse matrix type {obj._module}.{obj._name}")
    n_outer = shape[1] if fmt == "csc" else shape[0]
    for j in range(n_outer):
        rows, vals = indices[indptr[j] : indptr[j + 1]], data[indptr[j] : indptr[j + 1]]
        if fmt == "csc":
            out[rows, j] = vals
        else:
            out[j, rows] = vals
    return out


def _resolve(value: Any) -> Any:
    """Turn chumpy/scipy stand-ins into numpy arrays (recursively)."""
    if not isinstance(value, _PickledObject):
        return value
    state = value._state
    if value._module.startswith("scipy"):
        return _sparse_to_dense(value)
    if value._name == "Select":  # chumpy.reordering.Select: a.ravel()[idxs].reshape(preferred_shape)
        a = np.asarray(_resolve(state["a"]))
        out = a.ravel()[np.asarray(state["idxs"]).ravel()]
        shape = state.get("preferred_shape")
        return out.reshape(shape) if shape is not None else out
    if "x" in state:  # chumpy.ch.Ch and its subclasses holding a value
        return np.asarray(_resolve(state["x"]))
    raise MANOFileError(f"cannot resolve chumpy object {value._module}.{value._name} in the MANO file")


def _missing_file_message(path: Path) -> str:
    return (
        f"MANO model file not found: {path}\n"
        f"The MANO model is licensed and cannot be shipped. Register at {MANO_URL}, download "
        f"'Models & Code' (MANO v1.2) and copy mano_v1_2/models/MANO_RIGHT.pkl to "
        f"{DEFAULT_MANO_PATH} (or pass its path). To try the code without it, use the procedural "
        f"stand-in: python -m handmesh.mano.standin"
    )


def _check_topology(data: dict[str, Any], path: Path) -> None:
    """Faces must index the 778 vertices and the joint tree must be MANO's (the hand model assumes both)."""
    faces = data["f"]
    if (faces != np.round(faces)).any() or faces.min() < 0 or faces.max() >= NUM_VERTICES:
        raise MANOFileError(
            f"{path} is not a MANO model: face vertex ids in 'f' must be integers in [0, {NUM_VERTICES}), "
            f"got [{faces.min()}, {faces.max()}]"
        )
    parents = data["kintree_table"][0, 1:].astype(np.int64).tolist()
    if parents != list(MANO_PARENTS[1:]) or data["kintree_table"][1].tolist() != list(range(NUM_JOINTS)):
        raise MANOFileError(
            f"{path} is not a MANO model: its joint tree 'kintree_table' (parents of joints 1-15: {parents}) is not "
            f"MANO's ({list(MANO_PARENTS[1:])})"
        )


def detect_side(data: dict[str, np.ndarray]) -> str:
    """'right' or 'left' from the rest-pose geometry.

    In MANO's canonical frame the right hand's fingers point to -x from the wrist (the wrist joint
    sits at x ~ +0.096 m) and the left hand's to +x.
    """
    joints = data["J_regressor"] @ data["v_template"]  # (16, 3)
    knuckles = joints[[1, 4, 7, 10]].mean(axis=0)
    return "right" if joints[0, 0] > knuckles[0] else "left"


def load_mano_file(path: str | Path, side: str | None = None) -> dict[str, Any]:
    """Load a MANO v1.2 pickle (official or stand-in) as a dict of numpy arrays.

    Args:
        path: the `.pkl` file.
        side: "right" or "left" to check the file is that hand; None to accept either.

    Returns:
        Every key of the file, chumpy objects resolved to arrays and `J_regressor` densified
        (16, 778); `f` as int64; plus `side` ("right"/"left") and `is_standin` (bool).

    Raises:
        MANOFileError: the file is missing, not a MANO model, or the other hand.
    """
    path = Path(path)
    if side not in (None, "right", "left"):
        raise ValueError(f"side must be 'right', 'left' or None, got {side!r}")
    if path.is_dir():
        example = path / f"MANO_{(side or 'right').upper()}.pkl"
        raise MANOFileError(f"{path} is a folder; pass the MANO model file itself (e.g. {example})")
    if not path.is_file():
        raise MANOFileError(_missing_file_message(path))
    try:
        with path.open("rb") as fh:
            raw = _MANOUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise MANOFileError(f"{path} is not a MANO model pickle ({exc})") from exc
    except OSError as exc:
        raise MANOFileError(f"cannot read the MANO model file {path} ({exc.strerror or exc})") from exc
    if not isinstance(raw, dict):
        raise MANOFileError(f"{path} is not a MANO model: it holds a {type(raw).__name__}, not a dict")

    missing = [k for k in EXPECTED_SHAPES if k not in raw]
    if missing:
        raise MANOFileError(f"{path} is not a MANO model: missing keys {missing}")
    data: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            value = _resolve(value)
            if key in EXPECTED_SHAPES or key in ("hands_coeffs", "J"):
                value = np.asarray(value)
        except MANOFileError as exc:
            raise MANOFileError(f"{path}: {exc}") from exc
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:  # a malformed chumpy/scipy state
            raise MANOFileError(f"{path} is not a MANO model: cannot read '{key}' ({exc!r})") from exc
        data[key] = value
    for key, shape in EXPECTED_SHAPES.items():
        got = data[key].shape
        if len(got) != len(shape) or any(e not in (None, g) for e, g in zip(shape, got, strict=True)):
            hint = " (this looks like a body model, not MANO)" if key == "v_template" else ""
            raise MANOFileError(f"{path} is not a MANO model: '{key}' has shape {got}, expected {shape}{hint}")
        if data[key].dtype.kind not in "biuf":
            raise MANOFileError(f"{path} is not a MANO model: '{key}' holds {data[key].dtype} values, not numbers")
        if not np.isfinite(data[key]).all():
            raise MANOFileError(f"{path}: '{key}' holds NaN or infinite values")
    _check_topology(data, path)
    data["f"] = data["f"].astype(np.int64)
    data["is_standin"] = bool(raw.get("handmesh_standin", False))
    data["side"] = detect_side(data)
    if side is not None and data["side"] != side:
        raise MANOFileError(
            f"{path} is a {data['side'].upper()}-hand MANO model but a {side} hand was asked for "
            f"(use MANO_{side.upper()}.pkl, or pass side='{data['side']}')"
        )
    kind = "procedural STAND-IN hand model (not MANO)" if data["is_standin"] else "MANO model"
    log.info("loaded %s %s (%s hand)", kind, path, data["side"])
    return data
