"""AtomicCheckpointIO: a save either completes or leaves the previous checkpoint; leftovers are never 'last'."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from handmesh.checkpoint_io import AtomicCheckpointIO, leftover_temp_files
from handmesh.resume import find_last_checkpoint, is_last_checkpoint

REPO = Path(__file__).resolve().parents[1]


def _state(n: int) -> dict[str, torch.Tensor]:
    return {"weights": torch.arange(n, dtype=torch.float32)}


def test_save_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"  # the folder is made on the way
    plugin = AtomicCheckpointIO()
    plugin.save_checkpoint(_state(10), path)
    stale = path.with_name(".last.ckpt.99999.tmp")  # left by a save that was killed earlier
    stale.write_bytes(b"half a checkpoint")
    plugin.save_checkpoint(_state(20), path)
    assert torch.equal(plugin.load_checkpoint(path)["weights"], torch.arange(20, dtype=torch.float32))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.ckpt"
    plugin = AtomicCheckpointIO()
    plugin.save_checkpoint(_state(10), path)

    def disk_full(obj: object, f: io.BufferedWriter) -> None:
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        plugin.save_checkpoint(_state(20), path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path)["weights"], torch.arange(10, dtype=torch.float32))
    assert not leftover_temp_files(path)  # the failed attempt cleaned up after itself


# A process that saves a checkpoint, then is SIGKILLed halfway through writing the next one.
_KILLED_DURING_SAVE = textwrap.dedent(
    """
    import io, os, signal, sys
    import torch
    from handmesh.checkpoint_io import AtomicCheckpointIO

    path = sys.argv[1]
    plugin = AtomicCheckpointIO()
    plugin.save_checkpoint({"weights": torch.arange(1000.0)}, path)
    real_save = torch.save

    def dies_halfway(obj, f):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dies_halfway
    plugin.save_checkpoint({"weights": torch.arange(5000.0)}, path)
    """
)


def test_kill_during_a_save_leaves_the_previous_checkpoint_usable(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    path = folder / "last.ckpt"
    proc = subprocess.run([sys.executable, "-c", _KILLED_DURING_SAVE, str(path)], cwd=REPO, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]

    assert torch.equal(torch.load(path)["weights"], torch.arange(1000.0))  # the previous checkpoint, whole
    (leftover,) = leftover_temp_files(path)  # the half-written one, under a name no resume picks
    assert 0 < leftover.stat().st_size < 5000 * 4
    assert not is_last_checkpoint(leftover)
    assert find_last_checkpoint([folder]) == path
    # Lightning's own `ckpt_path="last"` search agrees (it reads the names in the checkpoint folder).
    assert ModelCheckpoint(dirpath=folder)._find_last_checkpoints(None) == {str(path)}  # type: ignore[arg-type]


def test_last_checkpoint_names() -> None:
    assert is_last_checkpoint(Path("last.ckpt")) and is_last_checkpoint(Path("last-v1.ckpt"))
    for name in (".last.ckpt.123.tmp", "last.ckpt.tmp", "best-epoch=001.ckpt", "lastly.ckpt", "last.pt"):
        assert not is_last_checkpoint(Path(name)), name
