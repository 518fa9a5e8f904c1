"""Smoke test of the benchmarks: `benchmarks/run_all.py --quick` runs all four on the CPU and reports sane numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(standin_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """The JSON and console output of one quick run (the stand-in hand model from the test session)."""
    out = tmp_path_factory.mktemp("bench") / "all.json"
    mano = f"--mano {standin_path}"
    cmd = [sys.executable, "benchmarks/run_all.py", "--quick", "--json", str(out),
           "--extra-train", f"{mano} --device cpu", "--extra-inference", f"{mano} --device cpu"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def _rows(data: dict, name: str) -> list[dict]:
    return data["benchmarks"][name]["rows"]


def test_every_benchmark_ran_and_reported_positive_finite_numbers(quick_run: tuple[dict, str]) -> None:
    data, stdout = quick_run
    assert data["failed"] == [] and data["quick"] is True
    assert set(data["benchmarks"]) == {"data", "train", "inference", "evaluate"}
    for name, result in data["benchmarks"].items():
        assert result["rows"], name
        assert result["machine"]["cpu_cores"] >= 1 and result["command"].startswith("python")
        for row in result["rows"]:
            assert math.isfinite(row["value"]), (name, row)
            if row["unit"] == "m":  # an agreement check: a difference, may be 0
                assert 0 <= row["value"] < 1e-4, row
            else:
                assert row["value"] > 0, (name, row)
    assert "summary" in stdout and "machine:" in stdout
    total_rows = sum(len(r["rows"]) for r in data["benchmarks"].values())
    assert stdout.count("│") >= total_rows  # every row made it into the printed summary


def test_rows_of_each_benchmark(quick_run: tuple[dict, str]) -> None:
    data, _ = quick_run
    train = {row["metric"] for row in _rows(data, "train")}
    assert {"throughput", "step time", "achieved"} <= train and any(m.startswith("peak memory") for m in train)
    inference = _rows(data, "inference")
    cases = {row["case"] for row in inference}
    assert cases == {"eager", "reparam", "compile", "onnx (CPU EP)"}  # compile did not fall back to eager
    for case in cases - {"eager"}:  # each path was checked against eager and compared with it
        metrics = {row["metric"] for row in inference if row["case"] == case}
        assert {"max |vertices - eager|", "latency speed-up vs eager", "latency bs 1 median"} <= metrics
    assert any(row["metric"] == "throughput" for row in _rows(data, "data"))
    assert len(_rows(data, "evaluate")) == 3
