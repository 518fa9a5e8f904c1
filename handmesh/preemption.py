"""Preemption: on SIGTERM or SIGUSR1, save a resumable `last.ckpt` at the next step boundary, then exit.

What Lightning 2.6 does by itself: its SIGTERM handler sets `trainer.received_sigterm` (under DDP
the flag is broadcast from rank 0 every step) and the loops raise `SIGTERMException` at the next
batch boundary; nothing is saved. SIGUSR1 is handled only under SLURM with `auto_requeue` (the
default there): Lightning saves `hpc_ckpt_<n>.ckpt` from inside the signal handler, in the middle of
whatever step is running, and requeues the job; elsewhere SIGUSR1 kills the process on the spot.

`PreemptionCheckpoint` makes both signals behave the same everywhere: SIGUSR1 is turned into
Lightning's SIGTERM path, and when `SIGTERMException` reaches the callback (a consistent state:
between steps, or between validation batches) it writes the run's `last.ckpt` (atomically, through
the trainer's checkpoint IO), prints what it did and, under SLURM, requeues the job after a SIGUSR1
(the time-limit warning of `#SBATCH --signal=SIGUSR1@90`). `handmesh.fit` then exits with status
128 + signal number, without the report. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_only


def last_checkpoint_path(trainer: pl.Trainer) -> Path:
    """Where `--ckpt_path last` looks: `last.ckpt` in the folder of the run's ModelCheckpoint callbacks."""
    callbacks = [cb for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath]
    named_last = [cb for cb in callbacks if cb.filename == cb.CHECKPOINT_NAME_LAST or cb.save_last]
    chosen = (named_last or callbacks or [None])[0]
    folder = Path(chosen.dirpath) if chosen is not None else Path(trainer.default_root_dir) / "checkpoints"
    return folder / f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}{ModelCheckpoint.FILE_EXTENSION}"


def slurm_job_id() -> str | None:
    """The id `scontrol requeue` takes for this SLURM job (array jobs: `<array job>_<task>`), or None."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job else os.environ.get("SLURM_JOB_ID")
    return job if job and re.fullmatch(r"[0-9_]+", job) else None


@rank_zero_only
def _say(message: str) -> None:
    print(f"handmesh.fit: {message}", file=sys.stderr, flush=True)


class PreemptionCheckpoint(pl.Callback):
    """Save `last.ckpt` and stop when the process gets SIGTERM or SIGUSR1 (cluster preemption, time limit).

    Args:
        requeue: under SLURM (`SLURM_JOB_ID` set), run `scontrol requeue <job>` after saving on SIGUSR1
            (SIGTERM means preemption, which SLURM requeues itself with `--requeue`, or a cancel).

    After the save, the `SIGTERMException` goes on to stop `Trainer.fit`; `signal_name`, `checkpoint`
    and `exit_code` say what happened. A signal before the first training step saves nothing (there
    is nothing new to keep, and the weights may not be restored yet).
    """

    def __init__(self, requeue: bool = True) -> None:
        self.requeue = requeue
        self.signum: int | None = None  # the first of SIGTERM / SIGUSR1 received (None: not preempted)
        self.checkpoint: Path | None = None  # what was saved
        self._training = False
        self._previous_sigusr1: Any = None

    @property
    def signal_name(self) -> str:
        """The signal's name, e.g. "SIGTERM" (empty before any signal)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """128 + signal number, the shell's convention for "ended by this signal" (143 SIGTERM, 138 SIGUSR1)."""
        return 128 + (self.signum if self.signum is not None else signal.SIGTERM)

    def _on_sigusr1(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self._lightning_handles_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)  # Lightning's handler: flag, DDP broadcast, stop at the next step

    @staticmethod
    def _lightning_handles_sigterm() -> bool:
        return signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Take over SIGUSR1 (before Lightning's SLURM handler would: it does not replace an existing one)."""
        self.signum, self.checkpoint, self._training = None, None, False
        if stage == "fit" and hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
            self._previous_sigusr1 = signal.signal(signal.SIGUSR1, self._on_sigusr1)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Give SIGUSR1 back."""
        self._restore_sigusr1()

    def _restore_sigusr1(self) -> None:
        if self._previous_sigusr1 is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, self._previous_sigusr1)
            self._previous_sigusr1 = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """From here on a stop saves; a SIGUSR1 that came while setting up is acted on now."""
        self._training = True
        if self.signum is not None and not trainer.received_sigterm and self._lightning_handles_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """On Lightning's SIGTERM stop: save `last.ckpt` (all ranks take part), then requeue if asked."""
        try:
            if isinstance(exception, SIGTERMException) and trainer.state.fn == TrainerFn.FITTING:
                self._save_and_requeue(trainer)
        finally:
            self._restore_sigusr1()  # (Lightning calls no teardown hooks after an exception)

    def _save_and_requeue(self, trainer: pl.Trainer) -> None:
        if self.signum is None:
            self.signum = signal.SIGTERM
        if not self._training:
            _say(f"received {self.signal_name} before training started; nothing to save, stopping.")
            return
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path, weights_only=False)  # the full training state: resumable
        self.checkpoint = path
        where = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
        _say(f"received {self.signal_name}: saved {path} ({where}) and stopping. Resume with `--ckpt_path last`.")
        job = slurm_job_id()
        if self.requeue and self.signum == getattr(signal, "SIGUSR1", None) and job and trainer.is_global_zero:
            self._requeue(job)

    @staticmethod
    def _requeue(job: str) -> None:
        try:
            result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            _say(f"could not requeue SLURM job {job}: {e}")
            return
        if result.returncode == 0:
            _say(f"requeued SLURM job {job}.")
        else:
            _say(f"`scontrol requeue {job}` failed ({result.returncode}): {result.stderr.strip()}")
