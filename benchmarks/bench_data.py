"""Benchmark the data pipeline (JPEG decode + augmentation + collate) and the synthetic generator.

    python benchmarks/bench_data.py [--root FREIHAND_ROOT] [--workers 0 1 2] [--batches 40] [--batch-size 32]
        [--json out.json]

Without --root a synthetic set (200 unique training samples = 800 images + 16, stand-in hand) is written
to a temporary folder first, timing the generator. The training pipeline is the one `fit` uses:
FreiHANDDataset(training, all 4 versions, recipe augmentation, 224) in a shuffled DataLoader.
Images are read from the page cache (a warm-up pass reads every file once), so disk speed is not measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, machine_info, write_json  # noqa: E402

from handmesh.data.augment import AugmentConfig  # noqa: E402
from handmesh.data.freihand import FreiHANDDataset  # noqa: E402
from handmesh.data.synthetic import generate  # noqa: E402


def time_generator(root: Path, train: int, eval_: int, workers: int) -> float:
    """Images written per second by the generator (whole run: annotations, rendering, JPEG writing)."""
    start = time.perf_counter()
    generate(root, train, eval_, seed=0, workers=workers, progress=False)
    return (train * 4 + eval_) / (time.perf_counter() - start)


def time_loader(root: Path, workers: int, batches: int, batch_size: int, input_size: int, mask: bool) -> float:
    """Training images per second through a DataLoader with `workers` processes (after a warm-up pass)."""
    dataset = FreiHANDDataset(root, augment=AugmentConfig(), input_size=input_size, return_mask=mask)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True)  # fmt: skip
    for _ in loader:  # warm-up: start workers, page cache
        pass
    done, start = 0, time.perf_counter()
    while done < batches:
        for batch in loader:
            assert batch["image"].shape[0] == batch_size
            done += 1
            if done == batches:
                break
    return batches * batch_size / (time.perf_counter() - start)


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="FreiHAND-layout root (default: generate one)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=40, help="timed batches per worker count")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--mask", action="store_true", help="also load and warp masks")
    parser.add_argument("--gen-train", type=int, default=200, help="unique training samples to generate")
    parser.add_argument("--gen-workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console()
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
                  f"torch {torch.__version__}")  # fmt: skip
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = Path(tmp) / "synthetic"
            rate = time_generator(root, args.gen_train, 16, args.gen_workers)
            rows.append(Row(f"generator, {args.gen_workers} processes", "throughput", rate, "images/s"))
            console.print(
                f"generator: {args.gen_train * 4 + 16} images, {args.gen_workers} workers: {rate:.1f} images/s"
            )
        table = Table(title=f"training pipeline, {args.input_size}x{args.input_size}, batch {args.batch_size}")
        for col in ("workers", "images/s", "images/s per worker", "ms/image per worker"):
            table.add_column(col, justify="right")
        for workers in args.workers:
            rate = time_loader(root, workers, args.batches, args.batch_size, args.input_size, args.mask)
            per = rate / max(workers, 1)
            table.add_row(str(workers), f"{rate:.0f}", f"{per:.0f}", f"{1000 / per:.2f}")
            case = f"loader, {workers} workers, batch {args.batch_size}, {args.input_size} px"
            rows += [Row(case, "throughput", rate, "images/s"), Row(case, "per worker", per, "images/s")]
        console.print(table)
    if args.json is not None:
        options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        write_json(args.json, "data", rows, machine_info("cpu"), options=options)


if __name__ == "__main__":
    main()
