"""demo.yaml shrunk for tests: the same sections and callbacks, a tiny model and a few steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from handmesh.fit import CONFIG_DIR

SIZE = 64


def tiny_config(tmp_path: Path, root: Path, mano: Path, name: str = "tiny.yaml", **trainer: Any) -> Path:
    """Write the shrunk config into `tmp_path` (run folder `tmp_path/run`); `trainer` overrides trainer keys."""
    cfg = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text())
    cfg["trainer"].update(
        default_root_dir=str(tmp_path / "run"), max_epochs=2, max_time=None, limit_train_batches=2,
        log_every_n_steps=1, enable_model_summary=False,
    )  # fmt: skip
    cfg["trainer"].update(trainer)
    cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp_path / "run")
    cfg["model"].update(mano_path=str(mano), input_size=SIZE, head_hidden=64)
    cfg["data"].update(root=str(root), input_size=SIZE, batch_size=4, num_workers=0, synthetic=None)
    cfg["report_overlays"] = 2
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path
