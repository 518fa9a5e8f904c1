"""Atomic file writes: the data goes to a hidden temporary file in the target's folder, which replaces the target
(`os.replace`, atomic within a file system) only once it is complete. An interrupted write never leaves a half
file under the final name, and the previous file stays as it was.

Checkpoints use it too (`handmesh.checkpoint_io`, which adds a folder fsync and the cleanup of earlier
interrupted saves, and keeps `.ckpt` out of the temporary names).
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
def atomic_path(path: str | Path, keep_suffix: bool = True) -> Iterator[Path]:
    """A temporary path next to `path` to write to; it replaces `path` when the block completes and is removed if
    the block raises.

    keep_suffix: the temporary name ends in `path`'s suffix (`.<stem>.<random>.tmp<suffix>`, for writers that
    pick the format from it); otherwise it ends in `.tmp` (`.<name>.<random>.tmp`, never taken for the real file).

    Raises OSError naming the obstacle when `path` is a folder or a file stands where one of its folders should be.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{path} is a folder", str(path))
    blocking = file_in_the_way(path.parent)
    if blocking is not None:
        raise NotADirectoryError(errno.ENOTDIR, f"{blocking} is a file, not a folder", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = (f".{path.stem}.", f".tmp{path.suffix}") if keep_suffix else (f".{path.name}.", ".tmp")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
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
