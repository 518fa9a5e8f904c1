"""Find the checkpoint that `--ckpt_path last` resumes, across the logger's version folders.

Lightning resolves `ckpt_path="last"` inside the checkpoint folder of the *current* logger version.
A new process gets a new version (`tb/version_1`), whose folder is empty, so Lightning silently starts
from scratch. `handmesh.fit` therefore resolves `last` itself before anything is built: the newest
`last.ckpt` (or `last-v<N>.ckpt`) under the run's checkpoint folders, and it continues logging into
that version folder so that a resumed run is one TensorBoard run with one checkpoint folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonargparse import Namespace

# Lightning's name for "last" checkpoints: last.ckpt, and last-v1.ckpt, ... when names collide.
_LAST_NAME = re.compile(r"last(-v?\d+)?\.ckpt")


def is_last_checkpoint(path: Path) -> bool:
    """Whether `path` is named like a "last" checkpoint (temporary files of unfinished saves are not)."""
    return bool(_LAST_NAME.fullmatch(path.name))


def find_last_checkpoint(folders: Iterable[Path]) -> Path | None:
    """The most recently written "last" checkpoint file in any of `folders` (None: none there)."""
    found = [p for folder in folders if folder.is_dir() for p in folder.iterdir() if is_last_checkpoint(p)]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


@dataclass(frozen=True)
class RunLayout:
    """Where a run's checkpoints can be (from its configuration, before anything is built).

    Args:
        default_root_dir: the trainer's `default_root_dir` (checkpoints go to `<it>/checkpoints` without a logger).
        logger_dir: `<save_dir>/<name>` of the first logger, whose `version_*` folders hold `checkpoints/`.
        checkpoint_dirs: explicit `dirpath`s of ModelCheckpoint callbacks.
    """

    default_root_dir: Path
    logger_dir: Path | None = None
    checkpoint_dirs: tuple[Path, ...] = ()

    def candidate_folders(self) -> list[Path]:
        """Every folder a "last" checkpoint of this run can be in."""
        folders = list(self.checkpoint_dirs)
        if self.logger_dir is not None and self.logger_dir.is_dir():
            folders += [v / "checkpoints" for v in sorted(self.logger_dir.iterdir()) if v.is_dir()]
        folders.append(self.default_root_dir / "checkpoints")
        return folders

    def version_of(self, checkpoint: Path) -> str | None:
        """The logger version folder name that holds `checkpoint` (None: not in a version folder)."""
        if self.logger_dir is None:
            return None
        folder = checkpoint.parent
        if folder.name == "checkpoints" and folder.parent.parent == self.logger_dir:
            return folder.parent.name
        return None


def _init_args(component: Any) -> Namespace | None:
    """The `init_args` of a `class_path`/`init_args` config entry (None: not such an entry)."""
    return getattr(component, "init_args", None) if isinstance(component, Namespace) else None


def run_layout(trainer_config: Namespace) -> RunLayout:
    """Where this trainer configuration puts its checkpoints (read from the config, before anything is built)."""
    root = Path(trainer_config.get("default_root_dir") or ".")
    logger = trainer_config.get("logger")
    logger = logger[0] if isinstance(logger, list) and logger else logger
    logger_dir = None
    if logger is True or logger is None:  # Lightning's default TensorBoard logger
        logger_dir = root / "lightning_logs"
    elif (args := _init_args(logger)) is not None and args.get("save_dir"):
        name = args.get("name", "lightning_logs")
        logger_dir = Path(args.save_dir) / name if name else Path(args.save_dir)
    dirs = []
    for callback in trainer_config.get("callbacks") or []:
        args = _init_args(callback)
        if args is not None and "ModelCheckpoint" in str(callback.class_path) and args.get("dirpath"):
            dirs.append(Path(args.dirpath))
    return RunLayout(root, logger_dir, tuple(dirs))


def resolve_last(config: Namespace) -> Path | None:
    """Turn `ckpt_path: last` into the newest `last.ckpt` of the run folder, and log into its version folder.

    Returns the checkpoint (None: there is none yet; Lightning then starts from scratch with a warning).
    """
    layout = run_layout(config.trainer)
    last = find_last_checkpoint(layout.candidate_folders())
    if last is None:
        return None
    config.ckpt_path = str(last)
    version = layout.version_of(last)
    logger = config.trainer.get("logger")
    logger = logger[0] if isinstance(logger, list) and logger else logger
    args = _init_args(logger)
    if version is not None and args is not None and "version" in args and args.version is None:
        args.version = version
    return last
