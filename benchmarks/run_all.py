"""Run every benchmark (data, train, inference, evaluate) and print one summary table.

    python benchmarks/run_all.py [--quick] [--only data train inference evaluate] [--threads N] [--json all.json]

Each benchmark runs in its own process (its own thread settings, compiled graphs and peak memory) with
defaults for the device (`cuda` when a GPU is visible, else `cpu`; see each script's --help). `--quick` is a
smoke run with tiny settings (fastvit_t8 at 64 px, a few steps, the aot_eager compile backend, one thread):
it checks that everything runs, its numbers mean nothing. `--extra-NAME "ARGS"` passes more arguments to
one script, e.g. `--extra-train "--precision fp32 bf16 --channels-last"`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    default_device,
    fmt,
    machine_info,
    machine_line,
    make_console,
    make_table,
    read_json,
)

BENCHMARKS = ("data", "train", "inference", "evaluate")
HERE = Path(__file__).resolve().parent

QUICK = {
    "data": "--gen-train 4 --gen-workers 1 --workers 0 --batches 2 --batch-size 4 --input-size 64",
    "train": "--encoder fastvit_t8 --input-size 64 --batch-sizes 2 --steps 2 --warmup 1",
    "inference": "--encoder fastvit_t8 --input-size 64 --runs 5 --warmup 1 --batches 2 --iters 2 --warmup-iters 1 "
    "--compile-backend aot_eager",
    "evaluate": "--samples 100 --repeat 1",
}


def command(name: str, quick: bool, threads: int, extra: str, json_path: Path) -> list[str]:
    """The command line of one benchmark, relative to the repository root (the script's defaults unless quick)."""
    args = shlex.split(QUICK[name]) if quick else []
    threads = threads or (1 if quick else 0)  # quick: one thread, robust on a shared machine
    if threads and name in ("train", "inference"):
        args += ["--threads", str(threads)]
    return [sys.executable, f"benchmarks/bench_{name}.py", *args, *shlex.split(extra), "--json", str(json_path)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the summary; returns the number of benchmarks that failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (numbers meaningless)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for train and inference (0: default)")
    for name in BENCHMARKS:
        parser.add_argument(f"--extra-{name}", default="", help=f"extra arguments for bench_{name}.py (one string)")
    parser.add_argument("--json", type=Path, default=None, help="write all results (and machine, commands) here")
    args = parser.parse_args(argv)
    console = make_console()
    device = default_device()
    machine = machine_info(device)
    console.print(machine_line(machine))
    results: dict[str, dict] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            out = Path(tmp) / f"{name}.json"
            cmd = command(name, args.quick, args.threads, getattr(args, f"extra_{name}"), out)
            console.rule(f"bench_{name}")
            console.print("$ " + shlex.join(["python", *cmd[1:-2]]))
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT)
            seconds = time.perf_counter() - start
            if proc.returncode != 0 or not out.is_file():
                console.print(f"[red]bench_{name} failed (exit code {proc.returncode})")
                failed.append(name)
                continue
            results[name] = read_json(out)
            results[name]["seconds"] = seconds
    body = [[name, r.case, r.metric, fmt(r.value), r.unit] for name, res in results.items() for r in res["rows"]]
    title = "summary" + (" (--quick: smoke run, the numbers mean nothing)" if args.quick else "")
    table = make_table(title, ["benchmark", "case", "metric", "value", "unit"], body, left=3)
    console.rule("summary")
    console.print(machine_line(machine))
    console.print(table)
    console.print(", ".join(f"{name}: {res['seconds']:.0f} s" for name, res in results.items()))
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}")
    if args.json is not None:
        payload = {
            "command": shlex.join([Path(sys.executable).name, *sys.argv]),
            "quick": args.quick,
            "machine": machine,
            "failed": failed,
            "benchmarks": {
                name: {**res, "rows": [asdict(row) for row in res["rows"]]} for name, res in results.items()
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return len(failed)


if __name__ == "__main__":
    sys.exit(main())
