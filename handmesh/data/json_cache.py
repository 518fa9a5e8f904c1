"""Parse FreiHAND annotation JSON files (nested lists of numbers) into numpy arrays, once.

The parsed array is cached as `.npy` in a `.handmesh_cache/` folder next to the JSON, keyed by the JSON's size
and modification time (and the dtype): an unchanged file is read back from the cache in milliseconds, a changed
one is parsed again. If that folder cannot be written, the cache goes to the user cache folder
(`$XDG_CACHE_HOME/handmesh/json` or `~/.cache/handmesh/json`), and if that fails too, nothing is cached.

Parsing avoids building Python lists of floats (a 600 MB training JSON would take minutes and gigabytes that
way): the numbers are read straight into a float64 array (`handmesh.data.json_numbers`) and the nesting is
checked from the brackets; anything irregular falls back to `json.loads`, which also produces the error message
for invalid JSON. Values are the same as `json.load` gives (both round decimal strings correctly).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handmesh.atomic import atomic_path
from handmesh.data.errors import DataError
from handmesh.data.json_numbers import parse_numbers

CACHE_DIR_NAME = ".handmesh_cache"
_NUMBER_CHARS = b"0123456789.eE+- \t\r\n"  # deleted to leave the skeleton of brackets and commas


def load_json_array(
    path: str | Path,
    dtype: np.dtype | type = np.float32,
    expected_shape_tail: Sequence[int] | None = None,
) -> np.ndarray:
    """Read a JSON file holding a regular nested list of numbers as an array of `dtype`.

    expected_shape_tail: the shape of one entry (e.g. (778, 3)); the array must be (N, *expected_shape_tail).
    Raises DataError naming the file for a missing file, invalid JSON, irregular nesting or a wrong shape.
    """
    path = Path(path)
    dtype = np.dtype(dtype)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    key = f"{path.name}.{stat.st_size}.{stat.st_mtime_ns}.{dtype.name}.npy"
    for folder in _cache_dirs(path):
        cached = _read_cache(folder / key)
        if cached is not None and cached.dtype == dtype:
            try:
                return _check_shape(cached, path, expected_shape_tail)
            except DataError:
                pass  # a cache file of another shape (tampered with, or written by other code): parse the JSON
    array = _check_shape(parse_json_array(path, dtype), path, expected_shape_tail)
    for folder in _cache_dirs(path):
        if _write_cache(folder, key, path.name, array):
            break
    return array


def parse_json_array(path: str | Path, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Parse (no cache) a JSON file holding a regular nested list of numbers into an array of `dtype`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    return parse_json_bytes(raw, path).astype(dtype, copy=False)


def parse_json_bytes(raw: bytes, source: str | Path) -> np.ndarray:
    """Parse JSON text holding a regular nested list of numbers into float64; DataError naming `source` if not."""
    array = _parse_fast(raw)
    if array is None:
        array = _parse_json(raw, Path(source))
    return array


def cache_path(path: str | Path, dtype: np.dtype | type = np.float32) -> Path | None:
    """The cache file currently holding `path` parsed as `dtype`, or None (not cached or stale)."""
    path = Path(path)
    stat = path.stat()
    key = f"{path.name}.{stat.st_size}.{stat.st_mtime_ns}.{np.dtype(dtype).name}.npy"
    for folder in _cache_dirs(path):
        if (folder / key).is_file():
            return folder / key
    return None


def _parse_fast(raw: bytes) -> np.ndarray | None:
    """Numbers straight into float64, shape from the first entry; None if anything looks irregular.

    Regularity is checked exactly: with the numbers and whitespace deleted, the text must equal the bracket-and-comma
    skeleton of a regular array of that shape (so ragged entries, missing commas or non-numbers all fall back).
    """
    text = raw.strip()
    if not text.startswith(b"[") or not text.endswith(b"]"):
        return None
    depth = re.match(rb"[\[\s]*", text).group(0).count(b"[")  # leading brackets (whitespace aside)
    if re.fullmatch(rb"\[\s*\]", text):
        return np.zeros((0,), dtype=np.float64)
    values = parse_numbers(text)
    if values is None:
        return None
    # shape of the first entry, parsed with json (small)
    if depth == 1:
        shape: tuple[int, ...] = (values.size,)
    else:
        end = _matching_bracket(text, text.index(b"[", 1))
        if end is None:
            return None
        try:
            first = np.asarray(json.loads(text[text.index(b"[", 1) : end + 1]), dtype=np.float64)
        except (ValueError, TypeError):
            return None
        if first.ndim != depth - 1 or first.size == 0 or values.size % first.size:
            return None
        shape = (values.size // first.size, *first.shape)
    if text.translate(None, _NUMBER_CHARS) != _skeleton(shape):
        return None
    return values.reshape(shape)


def parse_array_list(raw: bytes, entry_shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray] | None:
    """`[a_1, ..., a_K]` where a_k is a list of N entries of shape entry_shapes[k] (the same N for all) -> K float64
    arrays (N, *entry_shapes[k]), read in one pass; None if the text is anything else (the caller then falls back
    to `json.loads`). N follows from the count of numbers; the brackets and commas must be exactly those of such a
    list (whitespace aside)."""
    values = parse_numbers(raw)
    per_sample = sum(int(np.prod(shape)) for shape in entry_shapes)
    if values is None or per_sample == 0 or values.size % per_sample:
        return None
    n = values.size // per_sample
    skeleton = b"[" + b",".join(_skeleton((n, *shape)) for shape in entry_shapes) + b"]"
    if raw.translate(None, _NUMBER_CHARS) != skeleton:
        return None
    arrays, start = [], 0
    for shape in entry_shapes:
        size = n * int(np.prod(shape))
        arrays.append(values[start : start + size].reshape(n, *shape))
        start += size
    return arrays


def _skeleton(shape: tuple[int, ...]) -> bytes:
    """JSON text of a regular array of `shape` with the numbers left out, e.g. (2, 3) -> b"[[,,],[,,]]"."""
    text = b"[" + b"," * max(shape[-1] - 1, 0) + b"]"
    for n in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * n) + b"]"
    return text


def _matching_bracket(text: bytes, start: int) -> int | None:
    depth = 0
    for i in range(start, min(len(text), start + 10_000_000)):
        c = text[i]
        if c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:  # ]
            depth -= 1
            if depth == 0:
                return i
    return None


def _parse_json(raw: bytes, path: Path) -> np.ndarray:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not valid JSON (not UTF-8 text)") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            array = np.asarray(data)
        if array.dtype.kind not in "iuf" or re.search(rb"true|false", raw):  # booleans, strings, null, ragged
            raise TypeError(array.dtype)
        array = array.astype(np.float64)
    except (ValueError, TypeError, np.exceptions.VisibleDeprecationWarning):
        raise DataError(
            f"{path}: expected a regular nested list of numbers (every entry of the same shape), got {_describe(data)}"
        ) from None
    return array


def _describe(data: object) -> str:
    if not isinstance(data, list):
        return f"a JSON {type(data).__name__}"
    lengths = {len(x) if isinstance(x, list) else None for x in data[:1000]}
    if len(lengths) > 1:
        return f"a list whose entries have different lengths ({sorted(lengths, key=str)[:5]})"
    return "a list with non-numeric or irregular entries"


def _check_shape(array: np.ndarray, path: Path, tail: Sequence[int] | None) -> np.ndarray:
    if tail is None:
        return array
    tail = tuple(int(t) for t in tail)
    if array.size == 0 and array.ndim == 1:
        return array.reshape(0, *tail)
    if array.shape[1:] != tail:
        entry = "x".join(map(str, array.shape[1:])) or "a number"
        raise DataError(
            f"{path}: expected {len(array) if array.ndim else '?'} entries of shape {'x'.join(map(str, tail))}, "
            f"got entries of shape {entry} (array shape {array.shape})"
        )
    return array


def _cache_dirs(path: Path) -> list[Path]:
    """Candidate cache folders, in order: next to the JSON, then the user cache folder."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "handmesh" / "json"
    digest = hashlib.sha1(str(path.resolve().parent).encode()).hexdigest()[:16]
    return [path.parent / CACHE_DIR_NAME, base / digest]


def _read_cache(file: Path) -> np.ndarray | None:
    if not file.is_file():
        return None
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # unreadable, truncated or pickled cache: parse again


def _write_cache(folder: Path, key: str, json_name: str, array: np.ndarray) -> bool:
    """Write the cache atomically and drop stale versions of the same JSON; False if the folder is not usable."""
    try:
        with atomic_path(folder / key) as tmp, open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
    except OSError:
        return False
    for old in folder.glob(f"{json_name}.*.npy"):
        if old.name != key and old.name[len(json_name) + 1 :].count(".") == 3:
            old.unlink(missing_ok=True)
    return True
