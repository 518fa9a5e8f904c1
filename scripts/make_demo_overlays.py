"""The README's overlay picture from a demo run: predictions of its best checkpoint on evaluation images.

    python -m handmesh.fit --config demo.yaml        # the demo run (writes runs/demo/tb/version_N)
    python scripts/make_demo_overlays.py [--ckpt CKPT] [--out docs/images/demo_overlays.jpg]

Without --ckpt it takes the best checkpoint of the newest demo run. Each row: the input, the predicted
mesh over it with the sample's K, the mesh from the side, the ground truth, and the aligned per-vertex
error (the same rows as the run's overlays.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
from torch.utils.data import DataLoader, Subset

from handmesh.data.freihand import FreiHANDDataset
from handmesh.inference import predict_arrays
from handmesh.predict import load_model
from handmesh.visualize import STANDIN_BANNER, dataset_samples, overlay_grid, save_image


def newest_best_checkpoint(runs: Path) -> Path:
    """`best-*.ckpt` of the most recently modified run under `runs` (a clear error when there is none)."""
    found = sorted(runs.glob("**/checkpoints/best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no best-*.ckpt under {runs}: run `python -m handmesh.fit --config demo.yaml` first")
    return found[-1]


def main() -> None:
    """Write the picture."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="checkpoint (default: newest demo run's best)")
    parser.add_argument("--runs", type=Path, default=Path("runs/demo"))
    parser.add_argument("--data", type=Path, default=Path("data/synthetic/demo"), help="the run's FreiHAND root")
    parser.add_argument("--samples", type=int, nargs="+", default=[0, 1, 2, 3], help="evaluation sample indices")
    parser.add_argument("--width", type=int, default=1400, help="picture width in pixels (kept small for git)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/demo_overlays.jpg"), help=".jpg or .png")
    args = parser.parse_args()

    ckpt = args.ckpt or newest_best_checkpoint(args.runs)
    module = load_model(ckpt)
    dataset = FreiHANDDataset(args.data, "evaluation", input_size=module.hparams.input_size)
    loader = DataLoader(Subset(dataset, args.samples), batch_size=len(args.samples))
    pred = predict_arrays(module.net, loader)
    hand = module.hand_model
    title = f"{STANDIN_BANNER}, synthetic data" if hand.is_standin else None
    grid = overlay_grid(dataset_samples(dataset, pred, len(args.samples)), hand.faces.cpu().numpy(), title=title)
    height = round(grid.shape[0] * args.width / grid.shape[1])
    path = save_image(args.out, cv2.resize(grid, (args.width, height), interpolation=cv2.INTER_AREA))
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB) from {ckpt}")


if __name__ == "__main__":
    main()
