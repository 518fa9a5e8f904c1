"""Atomic checkpoint files: a kill or a crash during a save leaves the previous checkpoint usable.

Lightning's `TorchCheckpointIO` writes the checkpoint into a temporary file in the system temp folder
and moves it into place. When that folder is on another file system than the run folder (a local
/tmp and a shared cluster file system, the usual case on a cluster), the move is a copy over the
existing file: a kill during the copy truncates `last.ckpt`. Nothing is fsynced either, so a node
crash right after a save can leave an empty file, and a killed save leaves a checkpoint-sized file
in /tmp.

`AtomicCheckpointIO` writes into a temporary file in the checkpoint's own folder (`handmesh.atomic`),
fsyncs it, renames it over the target with `os.replace` (atomic within a file system) and fsyncs the
folder. The temporary name (`.last.ckpt.<random>.tmp`) does not end in `.ckpt`, so neither Lightning's
`ckpt_path="last"` nor `handmesh.resume` ever picks a leftover one. Remote paths (`s3://...`) go
through Lightning's own code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning import Trainer

from handmesh.atomic import atomic_path

TEMP_SUFFIX = ".tmp"


def leftover_temp_files(path: Path) -> list[Path]:
    """Temporary files of earlier, interrupted saves of `path` (any process)."""
    return sorted(path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"))


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """`torch.save(obj, path)` that either completes or leaves the previous file at `path` untouched."""
    path = Path(path)
    with atomic_path(path, keep_suffix=False) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_folder(path.parent)
    for stale in leftover_temp_files(path):  # from saves that were killed before their rename
        stale.unlink(missing_ok=True)


def _is_local(path: str | os.PathLike[str]) -> bool:
    text = os.fspath(path)
    return "://" not in text or text.startswith("file://")


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` whose local saves are atomic (temp file in the same folder, fsync, `os.replace`).

    `handmesh.fit` installs it in every run (`HandMeshCLI`); loading is Lightning's.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write `checkpoint` to `path` atomically (remote URLs: Lightning's own save)."""
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        text = os.fspath(path)
        atomic_torch_save(checkpoint, text.removeprefix("file://"))


def use_atomic_checkpoints(trainer: Trainer) -> None:
    """Make the trainer write checkpoints with `AtomicCheckpointIO` (unless a custom IO plugin was configured)."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
