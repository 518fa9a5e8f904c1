"""Atomic file writes: the data goes to a hidden temporary file in the target's folder, which replaces the target
(`os.replace`, atomic within a file system) only once it is complete. An interrupted write never leaves a half
file under the final name, and the previous file stays as it was.

Checkpoints have their own variant (`handmesh.checkpoint_io`: process-unique names for DDP, folder fsync,
cleanup of earlier interrupted saves).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def file_in_the_way(folder: str | Path) -> Path | None:
    """The file that stands where `folder` or one of its parents should be a folder (None: it can be created)."""
    for candidate in (Path(folder), *Path(folder).parents):  # the nearest existing one decides
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to `path` (same suffix, for writers that pick the format from it) to write to; it
    replaces `path` when the block completes and is removed if the block raises.

    Raises OSError naming the obstacle when `path` is a folder or a file stands where one of its folders should be.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{path} is a folder", str(path))
    blocking = file_in_the_way(path.parent)
    if blocking is not None:
        raise NotADirectoryError(errno.ENOTDIR, f"{blocking} is a file, not a folder", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (flushed to disk before the rename); returns the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)
