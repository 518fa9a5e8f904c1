"""Train (and report on) a hand mesh regressor: `python -m handmesh.fit --config freihand.yaml`.

A LightningCLI over `HandMeshModule` and `FreiHANDDataModule`. Every Lightning trainer flag works
(`--trainer.devices 8 --trainer.strategy ddp`, `--trainer.num_nodes`, ...). A bare config name is
looked up in the repository's `configs/` folder. `--ckpt_path last` resumes the last checkpoint.
After training, `--report true` evaluates the best checkpoint on the test split and writes
`pred.zip`, `scores.json` and overlay PNGs into the run folder.

Reliability (docs/RELIABILITY.md), in every run whatever the config: checkpoints are written atomically
(`AtomicCheckpointIO`); `--ckpt_path last` finds the newest `last.ckpt` of the run folder, in any logger
version, and keeps logging there; SIGTERM/SIGUSR1 save `last.ckpt` and exit with 128 + the signal
number (`preemption`); non-finite steps are skipped and too many in a row stop the run with exit status
1 (`nonfinite_guard`); every training epoch is seeded from (seed, epoch), so a resumed run repeats an
uninterrupted one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pytorch_lightning import Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.utilities.exceptions import SIGTERMException

from handmesh.checkpoint_io import use_atomic_checkpoints
from handmesh.data.datamodule import FreiHANDDataModule
from handmesh.data.errors import DataError, error_message
from handmesh.guards import NonFiniteGuard, NonFiniteTrainingError
from handmesh.lightning_module import HandMeshModule
from handmesh.mano.file import MANOFileError
from handmesh.preemption import PreemptionCheckpoint
from handmesh.resume import resolve_last
from handmesh.seeding import EpochSeeding

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def resolve_config_args(argv: list[str]) -> list[str]:
    """Map `--config NAME` (no folder, not an existing file) to `configs/NAME`."""
    out = list(argv)
    for i, arg in enumerate(out):
        value, prefix = None, ""
        if arg == "--config" and i + 1 < len(out):
            value, i = out[i + 1], i + 1
        elif arg.startswith("--config="):
            value, prefix = arg.split("=", 1)[1], "--config="
        if value is None or Path(value).exists() or "/" in value:
            continue
        candidate = CONFIG_DIR / value
        if not candidate.suffix:
            candidate = candidate.with_suffix(".yaml")
        if candidate.is_file():
            out[i] = prefix + str(candidate)
    return out


class HandMeshCLI(LightningCLI):
    """LightningCLI with `--ckpt_path` (resume), `--report` (evaluate and write outputs) and the reliability parts.

    Always there, configurable under their own keys: `nonfinite_guard` (`NonFiniteGuard`) and `preemption`
    (`PreemptionCheckpoint`); always there: `EpochSeeding` and `AtomicCheckpointIO`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trainer_defaults", {"callbacks": [EpochSeeding()]})
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume, or 'last'")
        parser.add_argument("--report", type=bool, default=True, help="after fit: test, pred.zip, scores, overlays")
        parser.add_argument("--report_overlays", type=int, default=8, help="number of overlay images")
        parser.add_argument("--report_baseline", type=bool, default=True, help="also score the mean-hand baseline")
        parser.add_lightning_class_args(NonFiniteGuard, "nonfinite_guard")
        parser.add_lightning_class_args(PreemptionCheckpoint, "preemption")

    def before_instantiate_classes(self) -> None:
        """Resolve `--ckpt_path last` across logger versions (Lightning only looks in a new, empty one)."""
        if self.config.get("ckpt_path") == "last":
            resolve_last(self.config)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The configured trainer, writing checkpoints atomically."""
        trainer = super().instantiate_trainer(**kwargs)
        use_atomic_checkpoints(trainer)
        return trainer


def build_cli(argv: list[str] | None = None) -> HandMeshCLI:
    """Parse the arguments (None: the command line) and build model, data and trainer, without running."""
    if argv is None:  # from the command line: LightningCLI reads sys.argv (with the config name resolved)
        sys.argv[1:] = resolve_config_args(sys.argv[1:])
        args = None
    else:
        args = resolve_config_args(argv)
    return HandMeshCLI(
        HandMeshModule,
        FreiHANDDataModule,
        run=False,
        args=args,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=42,
        auto_configure_optimizers=False,
    )


def fit_and_report(cli: HandMeshCLI) -> None:
    """Train (or resume), then, with `--report`, score and write the run's outputs."""
    cfg = cli.config
    try:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cfg.ckpt_path)
        if cfg.report:
            from handmesh.report import run_report

            run_report(
                cli.trainer,
                cli.model,
                cli.datamodule,
                overlays=cfg.report_overlays,
                baseline=cfg.report_baseline,
            )
    except SIGTERMException:  # preempted: `last.ckpt` is saved (PreemptionCheckpoint said where); no report
        stop = next(cb for cb in cli.trainer.callbacks if isinstance(cb, PreemptionCheckpoint))
        sys.exit(stop.exit_code)
    except NonFiniteTrainingError as e:
        sys.exit(f"handmesh.fit: {e}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m handmesh.fit`. Bad data or a bad MANO file: one line naming the file, exit 1."""
    try:
        fit_and_report(build_cli(argv))
    except (DataError, MANOFileError) as e:
        sys.exit(f"handmesh.fit: error: {error_message(e)}")


if __name__ == "__main__":
    main()
