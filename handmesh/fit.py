"""Train (and report on) a hand mesh regressor: `python -m handmesh.fit --config freihand.yaml`.

A LightningCLI over `HandMeshModule` and `FreiHANDDataModule`. Every Lightning trainer flag works
(`--trainer.devices 8 --trainer.strategy ddp`, `--trainer.num_nodes`, ...). A bare config name is
looked up in the repository's `configs/` folder. `--ckpt_path last` resumes the last checkpoint.
After training, `--report true` evaluates the best checkpoint on the test split and writes
`pred.zip`, `scores.json` and overlay PNGs into the run folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from handmesh.data.datamodule import FreiHANDDataModule
from handmesh.lightning_module import HandMeshModule

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
    """LightningCLI with `--ckpt_path` (resume) and `--report` (evaluate and write outputs)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume, or 'last'")
        parser.add_argument("--report", type=bool, default=True, help="after fit: test, pred.zip, scores, overlays")
        parser.add_argument("--report_overlays", type=int, default=8, help="number of overlay images")
        parser.add_argument("--report_baseline", type=bool, default=True, help="also score the mean-hand baseline")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m handmesh.fit`."""
    if argv is None:  # from the command line: LightningCLI reads sys.argv (with the config name resolved)
        sys.argv[1:] = resolve_config_args(sys.argv[1:])
        args = None
    else:
        args = resolve_config_args(argv)
    cli = HandMeshCLI(
        HandMeshModule,
        FreiHANDDataModule,
        run=False,
        args=args,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=42,
        auto_configure_optimizers=False,
    )
    cfg = cli.config
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


if __name__ == "__main__":
    main()
