"""Kill and resume, preemption signals and determinism, with real `python -m handmesh.fit` processes.

One scenario (a module fixture) runs five processes of the same tiny config (demo.yaml's checkpoint
callbacks, 2 epochs x 2 steps, CPU, deterministic, seed 0):

- A: uninterrupted, the reference;
- K: killed with SIGKILL at a random moment of epoch 1 (after epoch 0's `last.ckpt` exists), then
  R: the same command with `--ckpt_path last`;
- S: sent SIGUSR1 (with a fake SLURM job id and `scontrol` on PATH) once epoch 0 is saved, then
  S2: `--ckpt_path last`, sent SIGTERM right after it restored the checkpoint.

A, K and S run side by side, then R and S2.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import yaml
from jsonargparse import Namespace
from synthetic_set import synthetic_root  # noqa: F401 (fixture)
from tiny_config import tiny_config

from handmesh.checkpoint_io import AtomicCheckpointIO
from handmesh.fit import CONFIG_DIR, build_cli
from handmesh.guards import NonFiniteGuard
from handmesh.preemption import PreemptionCheckpoint
from handmesh.resume import resolve_last
from handmesh.seeding import EpochSeeding

REPO = Path(__file__).resolve().parents[1]
STEPS_PER_EPOCH, EPOCHS = 2, 2
TIMEOUT = 400.0


def _config(tmp: Path, root: Path, mano: Path) -> Path:
    """The tiny config with demo.yaml's two ModelCheckpoints only (no rendering), deterministic, seed 0."""
    tmp.mkdir(parents=True, exist_ok=True)
    demo = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text())
    checkpoints = [cb for cb in demo["trainer"]["callbacks"] if cb["class_path"].endswith(".ModelCheckpoint")]
    path = tiny_config(
        tmp, root, mano, callbacks=checkpoints, max_epochs=EPOCHS, limit_train_batches=STEPS_PER_EPOCH,
        deterministic=True, num_sanity_val_steps=0, enable_progress_bar=False,
    )  # fmt: skip
    cfg = yaml.safe_load(path.read_text())
    cfg["model"]["lr_milestones"] = [1]  # the scheduler steps across the resume too
    cfg["report"] = False
    path.write_text(yaml.safe_dump(cfg))
    return path


@dataclass
class Run:
    """One `python -m handmesh.fit` process in its own folder."""

    folder: Path
    config: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_name: str = "log.txt"

    def start(self) -> Run:
        log = open(self.folder / self.log_name, "w")  # noqa: SIM115 (the child process writes it)
        cmd = [sys.executable, "-m", "handmesh.fit", "--config", str(self.config), *self.args]
        # One thread each: three runs share the machine (and the same setting for all keeps them comparable).
        env = {**os.environ, "OMP_NUM_THREADS": "1", **self.env}
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        return self

    @property
    def version(self) -> Path:
        return self.folder / "run" / "tb" / "version_0"

    @property
    def last(self) -> Path:
        return self.version / "checkpoints" / "last.ckpt"

    def log(self) -> str:
        return (self.folder / self.log_name).read_text(errors="replace")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=TIMEOUT)


def _wait_for(condition, what: str, *runs: Run) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        for run in runs:
            if not run.running():
                raise AssertionError(f"process ended before {what}:\n{run.log()[-3000:]}")
        time.sleep(0.05)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@dataclass
class Scenario:
    reference: Run
    killed: Run
    resumed: Run
    kill_delay: float
    killed_ckpt: dict
    usr1: Run
    usr1_ckpt: dict
    term: Run
    scontrol_log: Path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path, standin_path: Path) -> Scenario:  # noqa: F811
    base = tmp_path_factory.mktemp("reliability")
    folders = {name: base / name for name in ("A", "K", "S")}
    configs = {name: _config(folder, synthetic_root, standin_path) for name, folder in folders.items()}
    fake_bin = base / "bin"
    fake_bin.mkdir()
    scontrol_log = base / "scontrol.txt"
    (fake_bin / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {scontrol_log}\n')
    (fake_bin / "scontrol").chmod(0o755)
    slurm_env = {"SLURM_JOB_ID": "4242", "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}

    reference = Run(folders["A"], configs["A"]).start()
    # `--ckpt_path last` from the start, as a requeued job would run it: with nothing there yet it starts afresh.
    killed = Run(folders["K"], configs["K"], ("--ckpt_path", "last")).start()
    usr1 = Run(folders["S"], configs["S"], env=slurm_env).start()
    try:
        # Into epoch 1 (or the end of epoch 0's saving): its 2 steps and validation take longer than 0.2 s, with
        # room for this polling loop being starved while three training processes share two cores.
        kill_delay = random.uniform(0.0, 0.2)
        kill_at = signalled = None
        deadline = time.monotonic() + TIMEOUT
        while kill_at is None or time.monotonic() < kill_at or not signalled:
            assert time.monotonic() < deadline, "timed out waiting for the first checkpoints"
            if not signalled and usr1.last.is_file():
                usr1.proc.send_signal(signal.SIGUSR1)  # right after epoch 0 is saved
                signalled = True
            if kill_at is None and killed.last.is_file():
                kill_at = time.monotonic() + kill_delay
            for run, waiting in ((killed, True), (usr1, not signalled)):
                assert run.running() or not waiting, (
                    f"the run ended before its signal (kill delay {kill_delay:.2f} s):\n{run.log()[-3000:]}"
                )
            time.sleep(0.02)
        killed.proc.send_signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
        killed_ckpt = _load(killed.last)
        resumed = Run(folders["K"], configs["K"], ("--ckpt_path", "last"), log_name="resumed.txt").start()

        usr1.wait()
        usr1_ckpt = _load(usr1.last)
        term = Run(folders["S"], configs["S"], ("--ckpt_path", "last"), slurm_env, log_name="resumed.txt").start()
        _wait_for(lambda: "Restored all states" in term.log(), "the restore", term)
        time.sleep(0.2)
        term.proc.send_signal(signal.SIGTERM)
        for run in (reference, resumed, term):
            run.wait()
    finally:
        for run in (reference, killed, usr1):
            if run.running():
                run.proc.kill()
        for name in ("resumed", "term"):
            run = locals().get(name)
            if run is not None and run.running():
                run.proc.kill()
    return Scenario(reference, killed, resumed, kill_delay, killed_ckpt, usr1, usr1_ckpt, term, scontrol_log)


def _scalars(event_file: Path, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_file)).Reload()
    return {e.step: e.value for e in acc.Scalars(tag)} if tag in acc.Tags()["scalars"] else {}


def _event_files(version: Path) -> list[Path]:
    return sorted(version.glob("events.out.tfevents.*"))


def test_killed_run_resumes_to_the_same_weights_and_metrics(scenario: Scenario) -> None:
    ref, resumed = scenario.reference, scenario.resumed
    assert ref.proc.returncode == 0, ref.log()[-3000:]
    assert resumed.proc.returncode == 0, resumed.log()[-3000:]
    # The kill landed in epoch 1: the checkpoint left behind is epoch 0's, so the resume re-runs epoch 1.
    assert scenario.killed_ckpt["global_step"] == STEPS_PER_EPOCH, scenario.kill_delay
    assert f"Restoring states from the checkpoint path at {resumed.last}" in resumed.log()
    assert not (resumed.folder / "run" / "tb" / "version_1").exists()  # same logger version, same folder

    a, r = _load(ref.last), _load(resumed.last)
    assert (r["epoch"], r["global_step"]) == (a["epoch"], a["global_step"]) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)
    assert a["state_dict"].keys() == r["state_dict"].keys()
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(r["state_dict"][key], value, rtol=1e-6, atol=1e-7, msg=key)
    adam_a, adam_r = a["optimizer_states"][0]["state"], r["optimizer_states"][0]["state"]
    for i, state in adam_a.items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(adam_r[i][name], state[name], rtol=1e-6, atol=1e-9)
    assert r["lr_schedulers"] == a["lr_schedulers"]

    # The final validation metrics logged by the resumed process are the uninterrupted run's.
    for tag in ("val/pa_mpjpe_mm", "val/loss", "val/f5"):
        final_a = _scalars(_event_files(ref.version)[-1], tag)
        final_r = _scalars(_event_files(resumed.version)[-1], tag)  # the resumed process's own event file
        step = max(final_a)
        assert step in final_r, (tag, final_r)
        assert final_r[step] == pytest.approx(final_a[step], rel=1e-6, abs=1e-7), tag


def test_same_seed_same_losses(scenario: Scenario) -> None:
    """Two runs from scratch (A and S, until S's signal) log the same per-step losses; so does R's epoch 1."""
    ref_losses = _scalars(_event_files(scenario.reference.version)[0], "train/loss")
    assert sorted(ref_losses) == list(range(EPOCHS * STEPS_PER_EPOCH))
    other = _scalars(_event_files(scenario.usr1.version)[0], "train/loss")
    assert len(other) >= STEPS_PER_EPOCH
    resumed = _scalars(_event_files(scenario.resumed.version)[-1], "train/loss")
    assert sorted(resumed) == list(range(STEPS_PER_EPOCH, EPOCHS * STEPS_PER_EPOCH))
    for losses in (other, resumed):
        for step, value in losses.items():
            assert value == pytest.approx(ref_losses[step], rel=1e-7, abs=0), step
    val_a = _scalars(_event_files(scenario.reference.version)[0], "val/pa_mpjpe_mm")
    val_s = _scalars(_event_files(scenario.usr1.version)[0], "val/pa_mpjpe_mm")
    first = min(val_a)
    assert val_s[first] == pytest.approx(val_a[first], rel=1e-7)


def test_sigusr1_saves_a_resumable_checkpoint_requeues_and_exits(scenario: Scenario) -> None:
    run, ckpt = scenario.usr1, scenario.usr1_ckpt
    log = run.log()
    assert run.proc.returncode == 128 + signal.SIGUSR1, log[-3000:]
    assert f"received SIGUSR1: saved {run.last}" in log
    assert "Traceback" not in log
    assert ckpt["global_step"] >= STEPS_PER_EPOCH and "optimizer_states" in ckpt and "loops" in ckpt
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert scenario.scontrol_log.read_text().splitlines() == ["requeue 4242"]  # once, after the SIGUSR1 only
    assert not (run.version / "pred.zip").exists()  # no report after a preemption


def test_sigterm_after_resume_saves_progress_and_exits(scenario: Scenario) -> None:
    run = scenario.term
    log = run.log()
    assert run.proc.returncode == 128 + signal.SIGTERM, log[-3000:]
    assert f"Restoring states from the checkpoint path at {run.last}" in log  # resumed S's checkpoint
    assert f"received SIGTERM: saved {run.last}" in log
    assert "Traceback" not in log
    ckpt = _load(run.last)
    assert ckpt["global_step"] > scenario.usr1_ckpt["global_step"]  # trained on, and kept it
    assert not (run.folder / "run" / "tb" / "version_1").exists()


def _touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (mtime, mtime))
    return path


def _trainer_config(run: Path, **logger_args: object) -> Namespace:
    logger = Namespace(
        class_path="pytorch_lightning.loggers.TensorBoardLogger",
        init_args=Namespace(save_dir=str(run), name="tb", version=None, **logger_args),
    )
    return Namespace(default_root_dir=str(run), logger=logger, callbacks=[])


def test_ckpt_path_last_finds_the_newest_last_checkpoint_in_any_version(tmp_path: Path) -> None:
    run = tmp_path / "run"
    now = time.time()
    _touch(run / "tb/version_0/checkpoints/last.ckpt", now - 100)
    newest = _touch(run / "tb/version_1/checkpoints/last.ckpt", now - 50)
    _touch(run / "tb/version_1/checkpoints/.last.ckpt.4242.tmp", now)  # a killed save: never 'last'
    _touch(run / "tb/version_1/checkpoints/best-epoch=003.ckpt", now)
    (run / "tb/version_2").mkdir()  # a run that died before its first checkpoint
    config = Namespace(ckpt_path="last", trainer=_trainer_config(run))
    assert resolve_last(config) == newest
    assert config.ckpt_path == str(newest)
    assert config.trainer.logger.init_args.version == "version_1"  # logging and checkpoints continue there

    empty = Namespace(ckpt_path="last", trainer=_trainer_config(tmp_path / "fresh"))
    assert resolve_last(empty) is None and empty.ckpt_path == "last"  # nothing yet: Lightning starts afresh

    pinned = Namespace(ckpt_path="last", trainer=_trainer_config(run))
    pinned.trainer.logger.init_args.version = 7  # a version the user chose is kept
    resolve_last(pinned)
    assert pinned.trainer.logger.init_args.version == 7


def test_every_run_gets_atomic_checkpoints_and_the_reliability_callbacks(
    tmp_path: Path,
    synthetic_root: Path,  # noqa: F811
    standin_path: Path,
) -> None:
    config = _config(tmp_path, synthetic_root, standin_path)
    cli = build_cli(["--config", str(config), "--nonfinite_guard.max_consecutive", "3"])
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    callbacks = {type(cb): cb for cb in cli.trainer.callbacks}
    assert callbacks[NonFiniteGuard].max_consecutive == 3
    assert callbacks[PreemptionCheckpoint].requeue is True
    assert EpochSeeding in callbacks
