"""FreiHAND submission files: `pred.json` = `[xyz_list, verts_list]` (metres, camera frame, FreiHAND keypoint
order, dataset index order), or `pred.zip` holding that `pred.json` at its root (no folder).

Both directions validate: equal counts (and the split's size when given), shapes 21x3 / 778x3, finite values,
metre scale (a millimetre submission is refused with a message saying so). Writes are atomic: the file appears
under its final name only once complete.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from handmesh.atomic import atomic_write
from handmesh.data.json_cache import parse_array_list
from handmesh.metrics.arrays import all_finite, as_float64

NUM_KEYPOINTS, NUM_VERTICES = 21, 778
PRED_NAME = "pred.json"
# FreiHAND hands are ~0.2 m across and within ~1 m of the camera; in millimetres they are ~200 across.
MAX_HAND_SIZE_M = 1.0  # median vertex bounding-box diagonal above this is not metres
MAX_ABS_COORD_M = 20.0  # any coordinate above this is not metres


class SubmissionError(ValueError):
    """A submission file or array that is not in FreiHAND's format; the message names the file and the problem."""


def write_submission(path: str | Path, xyz, verts, expected_count: int | None = None) -> Path:
    """Validate and write `pred.json` or `pred.zip` (chosen by the suffix of `path`); returns the path.

    xyz: (N, 21, 3), verts: (N, 778, 3), metres, camera frame (numpy arrays or tensors).
    expected_count: the split's size (3,960 for FreiHAND evaluation), checked when given.
    """
    path = Path(path)
    if path.suffix not in (".json", ".zip"):
        raise SubmissionError(f"{path}: a submission is written as .json (pred.json) or .zip (pred.zip)")
    xyz_np, verts_np = _to_numpy(xyz, path), _to_numpy(verts, path)
    validate_submission(xyz_np, verts_np, expected_count, source=str(path))
    text = json.dumps([xyz_np.tolist(), verts_np.tolist()]).encode()
    if path.suffix == ".zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr(PRED_NAME, text)
        text = buffer.getvalue()
    try:
        atomic_write(path, text)
    except OSError as e:
        raise SubmissionError(f"{path}: cannot write the submission ({e.strerror or e})") from None
    return path


def read_submission(path: str | Path, expected_count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate a `pred.json` or `pred.zip`: returns xyz (N, 21, 3) and verts (N, 778, 3), float64."""
    path = Path(path)
    if path.is_dir():
        raise SubmissionError(f"{path}: a folder, not a submission file (pass pred.json or pred.zip)")
    if not path.is_file():
        raise SubmissionError(f"{path}: submission file not found")
    try:
        if zipfile.is_zipfile(path):
            raw = _read_zip_member(path)
            source = f"{path}:{PRED_NAME}"
        elif path.suffix == ".zip":
            raise SubmissionError(f"{path}: not a valid zip file")
        else:
            raw = path.read_bytes()
            source = str(path)
    except OSError as e:
        raise SubmissionError(f"{path}: cannot read the file ({e.strerror or e})") from None
    xyz, verts = _parse_pred(raw, source)
    validate_submission(xyz, verts, expected_count, source=source)
    return xyz, verts


def validate_submission(xyz: np.ndarray, verts: np.ndarray, expected_count: int | None, source: str) -> None:
    """Raise SubmissionError (naming `source`) unless xyz (N, 21, 3) and verts (N, 778, 3) form a valid
    metre-scale submission of `expected_count` samples (any N >= 1 when None)."""
    for name, array, n in (("xyz (keypoints)", xyz, NUM_KEYPOINTS), ("verts (vertices)", verts, NUM_VERTICES)):
        if array.ndim != 3 or array.shape[1:] != (n, 3):
            raise SubmissionError(f"{source}: {name} must have shape (N, {n}, 3), got {array.shape}")
    if len(xyz) != len(verts):
        raise SubmissionError(f"{source}: {len(xyz)} keypoint entries but {len(verts)} vertex entries")
    check_count(len(xyz), expected_count, source)
    if len(xyz) == 0:
        raise SubmissionError(f"{source}: empty submission (no samples)")
    for name, array in (("xyz (keypoints)", xyz), ("verts (vertices)", verts)):
        if all_finite(array):
            continue
        bad = ~np.isfinite(array).all(axis=(1, 2))
        first = np.flatnonzero(bad)[:5].tolist()
        raise SubmissionError(f"{source}: {name} holds NaN or inf in {int(bad.sum())} samples (first: {first})")
    verts_max, verts_min = verts.max(1), verts.min(1)  # (N, 3) each
    size = float(np.median(np.linalg.norm(verts_max - verts_min, axis=-1)))
    if size > MAX_HAND_SIZE_M:
        hint = " This looks like millimetres: divide by 1000." if 20.0 < size < 2000.0 else ""
        raise SubmissionError(
            f"{source}: coordinates must be in metres, but the hands are {size:.4g} units across (median bounding-box"
            f" diagonal of the vertices; a hand is ~0.2 m).{hint}"
        )
    largest = max(float(xyz.max()), -float(xyz.min()), float(verts_max.max()), -float(verts_min.min()))
    if largest > MAX_ABS_COORD_M:
        raise SubmissionError(
            f"{source}: a coordinate of {largest:.4g} is not plausible in metres (camera frame; FreiHAND hands lie "
            "within ~1 m of the camera)"
        )


def check_count(count: int, expected_count: int | None, source: str) -> None:
    """Raise SubmissionError unless a submission of `count` samples fits a split of `expected_count` (None: any)."""
    if expected_count is not None and count != expected_count:
        raise SubmissionError(f"{source}: {count} samples, expected {expected_count} (the split's size)")


def _parse_pred(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """`[xyz_list, verts_list]` JSON bytes -> two float64 arrays: read in one pass (no Python float lists) when the
    file is exactly that with 21 x 3 and 778 x 3 entries; anything else takes the general `json.loads` path, which
    also words the errors."""
    arrays = parse_array_list(raw, [(NUM_KEYPOINTS, 3), (NUM_VERTICES, 3)])
    if arrays is None:
        return _parse_pred_slow(raw, source)
    return arrays[0], arrays[1]


def _parse_pred_slow(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The general path through `json.loads`, with the messages for malformed files."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SubmissionError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(data, list) or len(data) != 2:
        raise SubmissionError(f"{source}: expected a JSON list of two lists [xyz_list, verts_list]")
    out = []
    for name, entries in zip(("xyz (keypoints)", "verts (vertices)"), data, strict=True):
        try:
            out.append(_entries(np.asarray(entries, dtype=np.float64), source, name))
        except (ValueError, TypeError):
            raise SubmissionError(f"{source}: {name} is not a regular list of numbers (entries of one shape)") from None
    return out[0], out[1]


def _entries(array: np.ndarray, source: str, name: str) -> np.ndarray:
    if array.ndim == 1 and array.size == 0:
        return array.reshape(0, NUM_KEYPOINTS if name.startswith("xyz") else NUM_VERTICES, 3)
    return array


def _read_zip_member(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if PRED_NAME in names:
                return zf.read(PRED_NAME)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:  # bad archive, bad CRC, corrupt deflate data
        raise SubmissionError(f"{path}: cannot read the zip file, it is corrupt ({e})") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, or a compression method zipfile cannot read
        raise SubmissionError(f"{path}: cannot read {PRED_NAME} from the zip ({e})") from None
    nested = [n for n in names if n.rsplit("/", 1)[-1] == PRED_NAME]
    if nested:
        raise SubmissionError(
            f"{path}: {PRED_NAME} must be at the root of the zip, found {nested[0]!r} inside a folder "
            f"(zip the file itself, e.g. `zip -j pred.zip pred.json`)"
        )
    raise SubmissionError(f"{path}: no {PRED_NAME} in the zip (it holds {names[:10]})")


def _to_numpy(x, path: Path) -> np.ndarray:
    try:
        return as_float64(x)
    except (ValueError, TypeError):
        raise SubmissionError(
            f"{path}: predictions must be numeric arrays of shape (N, 21, 3) and (N, 778, 3)"
        ) from None
