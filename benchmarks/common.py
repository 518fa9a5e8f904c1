"""Helpers shared by the benchmarks: machine description, timing with device synchronisation, peak memory,
result rows (printed as rich tables and written as JSON for `run_all.py`)."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def default_device() -> str:
    """`cuda` when a GPU is visible, else `cpu`."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, threads, GPU, versions, load, date (UTC)."""
    info: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.device(device))
        info["gpu"] = props.name
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line for the console: `machine: ...`."""
    gpu = f", GPU {info['gpu']} ({info['gpu_memory_gib']} GiB, CUDA {info['cuda']})" if "gpu" in info else ", no GPU"
    load = f", load average {'/'.join(str(x) for x in info['load_average'])}" if "load_average" in info else ""
    return (
        f"machine: {info['cpu']}, {info['cpu_cores']} CPU cores ({info['torch_threads']} torch threads){gpu}; "
        f"torch {info['torch']}, Python {info['python']}; {info['date']}{load}"
    )


def synchronize(device: str | torch.device) -> None:
    """Wait for queued GPU work (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], runs: int, warmup: int, device: str | torch.device) -> list[float]:
    """Seconds per call of `fn`, each call timed on its own and synchronised, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def time_loop(fn: Callable[[], Any], iters: int, warmup: int, device: str | torch.device) -> float:
    """Seconds per call of `fn` over `iters` back-to-back calls (one synchronisation at the end: throughput)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / iters


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Shortest wall time of `repeat` runs of `fn` and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between samples."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _peak_rss_kib() -> int:
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def reset_peak_memory(device: str | torch.device) -> None:
    """Start a new peak: CUDA's allocator statistics, or the process's peak RSS (Linux `clear_refs`)."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass  # not Linux: the peak then covers the whole process lifetime


def peak_memory_mib(device: str | torch.device) -> float:
    """Peak since `reset_peak_memory`: `torch.cuda.max_memory_allocated` on a GPU, peak RSS on the CPU."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return _peak_rss_kib() / 1024


@dataclass
class Row:
    """One measured number: `case` (what ran), `metric` (what was measured), `value`, `unit`."""

    case: str
    metric: str
    value: float
    unit: str


def make_console() -> Console:
    """A rich console; 160 columns wide when the output is not a terminal (files, pipes, subprocesses)."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def make_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> Table:
    """A rich table; the first `left` columns are left-aligned, the others right-aligned."""
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*(str(x) for x in row))
    return table


def rows_table(title: str, rows: Sequence[Row], benchmark: str | None = None) -> Table:
    """A rich table of result rows (optionally with a first column naming the benchmark)."""
    columns = (["benchmark"] if benchmark is not None else []) + ["case", "metric", "value", "unit"]
    body = [([benchmark] if benchmark is not None else []) + [r.case, r.metric, fmt(r.value), r.unit] for r in rows]
    return make_table(title, columns, body, left=len(columns) - 2)


def fmt(value: float) -> str:
    """A number with about 3-4 significant digits, without exponent for ordinary magnitudes."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude < 1e-3 or magnitude >= 1e7:
        return f"{value:.2e}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def write_json(path: str | Path, benchmark: str, rows: Sequence[Row], machine: dict[str, Any], **extra: Any) -> None:
    """Write the results of one benchmark: its command line, machine, rows and anything in `extra`."""
    payload = {
        "benchmark": benchmark,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "rows": [asdict(r) for r in rows],
        **extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")


def run_main(
    benchmark: str, args: argparse.Namespace, run: Callable[[argparse.Namespace, Console], tuple[list[Row], dict]]
) -> list[Row]:
    """Run a model benchmark (`run(args, console)` prints its tables), write JSON when `--json` is given."""
    rows, machine = run(args, make_console())
    if args.json is not None:
        write_json(args.json, benchmark, rows, machine, options=vars(args) | {"json": str(args.json)})
    return rows


def add_model_arguments(parser: argparse.ArgumentParser, threads_help: str) -> None:
    """The device, threads, MANO file and JSON options of the model benchmarks."""
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--threads", type=int, default=0, help=threads_help)
    parser.add_argument("--mano", default=None, help="MANO file (default: data/mano/MANO_RIGHT.pkl or the stand-in)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")


def read_json(path: str | Path) -> dict[str, Any]:
    """A file written by `write_json`, rows as `Row`s."""
    data = json.loads(Path(path).read_text())
    data["rows"] = [Row(**r) for r in data["rows"]]
    return data


def mano_path(explicit: str | None = None) -> Path:
    """The MANO file for model benchmarks: `explicit`, else data/mano/MANO_RIGHT.pkl when present, else the
    procedural stand-in (same array sizes, so the same cost; made on demand by `HandMeshModule`)."""
    if explicit is not None:
        return Path(explicit)
    real = ROOT / "data" / "mano" / "MANO_RIGHT.pkl"
    return real if real.is_file() else ROOT / "data" / "mano" / "standin_MANO_RIGHT.pkl"
