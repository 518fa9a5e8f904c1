"""Benchmark inference, end to end (image tensor in, camera-frame mesh vertices out, MANO layer included):
eager training form vs reparameterised vs torch.compile'd vs ONNX Runtime.

    python benchmarks/bench_inference.py [--encoder fastvit_ma36] [--input-size 224] [--runs 30]
        [--batches 8 32] [--iters 3] [--paths eager reparam compile onnx] [--json out.json]

Paths (`handmesh.model.inference_model.prepare_for_inference` builds the PyTorch ones):
- eager: the network as trained (FastViT's training-time branches), eval mode;
- reparam: timm's structural reparameterisation (branches fused into single convolutions);
- compile: the reparameterised network through torch.compile (--compile-mode; on a GPU the default
  "reduce-overhead" replays CUDA graphs, "max-autotune" also autotunes kernels; one graph per batch size);
- onnx: the reparameterised network exported by `handmesh.export` (opset 17, dynamic batch), run by ONNX Runtime
  (CUDA execution provider with I/O bound to the torch tensors when the device is a GPU and the provider is
  installed, else the CPU provider).

Latency: batch 1, median and 90th percentile of --runs calls, each synchronised. Throughput: images/s over
--iters back-to-back calls per batch size. All under torch.inference_mode. Every path's vertices are compared
with eager on the first throughput batch (max absolute difference, metres). Encoder weights are random
(pretrained=False) with BatchNorm statistics drawn at random, so the fused convolutions differ from the
identity; the speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Row,
    add_model_arguments,
    default_device,
    fmt,
    machine_info,
    machine_line,
    make_table,
    mano_path,
    percentile,
    rows_table,
    run_main,
    time_calls,
    time_loop,
)

from handmesh.export import example_inputs, export_onnx  # noqa: E402
from handmesh.model.inference_model import prepare_for_inference  # noqa: E402

PATHS = ("eager", "reparam", "compile", "onnx")
Runner = Callable[[Tensor, Tensor], Tensor]  # (images, K) -> vertices (B, 778, 3)


def build_network(encoder: str, input_size: int, mano: str | None, seed: int = 0) -> nn.Module:
    """HandMeshModule's HandRegressor with random weights and random BatchNorm statistics, eval mode, on the CPU."""
    from handmesh.lightning_module import HandMeshModule

    torch.manual_seed(seed)
    module = HandMeshModule(encoder=encoder, pretrained=False, mano_path=str(mano_path(mano)), input_size=input_size)
    with torch.no_grad():
        for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
    return module.net.eval()


class TorchRunner:
    """(images, K) -> vertices of a PyTorch model (`model` kept for reports)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, images: Tensor, K: Tensor) -> Tensor:
        return self.model(images, K).vertices


class OrtRunner:
    """(images, K) -> vertices with ONNX Runtime; on the CUDA provider, inputs and output are bound to the torch
    tensors' device memory (no host copies), on the CPU provider arrays are passed as NumPy views."""

    def __init__(self, path: Path, device: str, threads: int = 0) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": torch.device(device).index or 0}))
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        self.provider = self.session.get_providers()[0]
        self.device = torch.device(device)
        shape = next(o.shape for o in self.session.get_outputs() if o.name == "vertices")
        self.vertex_shape = [int(x) for x in shape[1:]]  # (778, 3); the batch axis is dynamic

    def __call__(self, images: Tensor, K: Tensor) -> Tensor:
        if self.provider != "CUDAExecutionProvider":
            feeds = {"image": images.cpu().numpy(), "K": K.cpu().numpy()}
            (vertices,) = self.session.run(["vertices"], feeds)
            return torch.from_numpy(vertices).to(self.device)
        index = images.device.index or 0
        images, K = images.contiguous(), K.contiguous()
        out = torch.empty(images.shape[0], *self.vertex_shape, device=images.device)
        binding = self.session.io_binding()
        for name, t in (("image", images), ("K", K)):
            binding.bind_input(name, "cuda", index, np.float32, list(t.shape), t.data_ptr())
        binding.bind_output("vertices", "cuda", index, np.float32, list(out.shape), out.data_ptr())
        torch.cuda.current_stream(images.device).synchronize()  # ORT runs on its own stream: inputs must be ready
        self.session.run_with_iobinding(binding)  # returns when the outputs are written
        return out


def build_runners(net: nn.Module, args: argparse.Namespace, tmp: Path, console: Console) -> dict[str, Runner]:
    """One callable per requested path, all on `args.device`."""
    device = args.device
    runners: dict[str, Runner] = {}
    for path in args.paths:
        start = time.perf_counter()
        if path == "eager":
            runners[path] = TorchRunner(net.to(device))
        elif path == "reparam":
            runners[path] = TorchRunner(prepare_for_inference(net, channels_last=args.channels_last, device=device))
        elif path == "compile":
            model = prepare_for_inference(
                net,
                compile=True,
                mode=args.compile_mode,
                backend=args.compile_backend,
                channels_last=args.channels_last,
                device=device,
            )
            runners[path] = TorchRunner(model)
        elif path == "onnx":
            onnx_file = export_onnx(net.cpu(), tmp / "model.onnx", reparameterized=True)
            net.to(device)
            runner = OrtRunner(onnx_file, device, args.threads)
            console.print(f"onnx: exported in {time.perf_counter() - start:.1f} s, provider {runner.provider}")
            runners[path] = runner
        console.print(f"{path}: ready in {time.perf_counter() - start:.1f} s")
    return runners


def label(path: str, runner: Runner) -> str:
    """The path's name in the table."""
    if isinstance(runner, OrtRunner):
        return f"onnx ({runner.provider.removesuffix('ExecutionProvider')} EP)"
    if getattr(runner.model, "compile_error", None) is not None:  # type: ignore[attr-defined]
        return "compile (FAILED: ran eagerly)"
    return path


def measure(
    net: nn.Module, runners: dict[str, Runner], args: argparse.Namespace, console: Console
) -> dict[str, dict[str, float]]:
    """Latency, throughput and max |vertices - eager `net`| for every runner."""
    device = args.device
    one = [t.to(device) for t in example_inputs(1, args.input_size, seed=1)]
    batches = {b: [t.to(device) for t in example_inputs(b, args.input_size, seed=2)] for b in args.batches}
    check_batch = args.batches[0]
    results: dict[str, dict[str, float]] = {}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TF32.*")
        reference = net.to(device)(*batches[check_batch]).vertices.float().cpu()
        for path, run in runners.items():
            start = time.perf_counter()
            res: dict[str, float] = {}
            vertices = run(*batches[check_batch]).float().cpu()  # a copy: CUDA-graph outputs are overwritten
            if path != "eager":
                res["max_abs_diff"] = float((vertices - reference).abs().max())
            times = time_calls(lambda run=run: run(*one), args.runs, args.warmup, device)
            res["median_ms"], res["p90_ms"] = 1e3 * percentile(times, 50), 1e3 * percentile(times, 90)
            for b, inputs in batches.items():
                seconds = time_loop(lambda run=run, inputs=inputs: run(*inputs), args.iters, args.warmup_iters, device)
                res[f"bs{b}"] = b / seconds
            results[label(path, run)] = res
            total = time.perf_counter() - start
            console.print(f"{label(path, run)}: latency {res['median_ms']:.2f} ms, {total:.1f} s in all")
    return results


def to_rows(results: dict[str, dict[str, float]], batches: list[int]) -> list[Row]:
    """Result rows (with speed-ups against the eager path when it ran)."""
    eager = next((r for name, r in results.items() if name == "eager"), None)
    rows: list[Row] = []
    for name, res in results.items():
        rows.append(Row(name, "latency bs 1 median", res["median_ms"], "ms"))
        rows.append(Row(name, "latency bs 1 p90", res["p90_ms"], "ms"))
        if eager is not None and name != "eager":
            rows.append(Row(name, "latency speed-up vs eager", eager["median_ms"] / res["median_ms"], "x"))
        for b in batches:
            rows.append(Row(name, f"throughput bs {b}", res[f"bs{b}"], "img/s"))
            if eager is not None and name != "eager":
                rows.append(Row(name, f"throughput bs {b} speed-up vs eager", res[f"bs{b}"] / eager[f"bs{b}"], "x"))
        if "max_abs_diff" in res:
            rows.append(Row(name, "max |vertices - eager|", res["max_abs_diff"], "m"))
    return rows


def _ratio(res: dict[str, float], eager: dict[str, float] | None, key: str, higher_is_better: bool) -> str:
    if eager is None:
        return ""
    return f"{res[key] / eager[key] if higher_is_better else eager[key] / res[key]:.2f}"


def summary_table(results: dict[str, dict[str, float]], batches: list[int], title: str) -> Table:
    """One row per path: latency (median, p90, x eager), throughput per batch size (x eager), agreement."""
    eager = results.get("eager")
    columns = ["path", "median ms", "p90 ms", "x eager"]
    for b in batches:
        columns += [f"bs {b} img/s", "x eager"]
    columns.append("max |dv| vs eager (m)")
    body = []
    for name, res in results.items():
        row = [name, f"{res['median_ms']:.2f}", f"{res['p90_ms']:.2f}", _ratio(res, eager, "median_ms", False)]
        for b in batches:
            row += [fmt(res[f"bs{b}"]), _ratio(res, eager, f"bs{b}", True)]
        row.append(f"{res['max_abs_diff']:.1e}" if "max_abs_diff" in res else "-")
        body.append(row)
    return make_table(title, columns, body)


def run(args: argparse.Namespace, console: Console) -> tuple[list[Row], dict]:
    """Build every path, measure, print the tables; returns the rows and the machine description."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    machine = machine_info(args.device)
    console.print(machine_line(machine))
    net = build_network(args.encoder, args.input_size, args.mano)
    hand = "STAND-IN hand model" if getattr(net.hand_model, "is_standin", False) else "MANO"
    with tempfile.TemporaryDirectory() as tmp:
        runners = build_runners(net, args, Path(tmp), console)
        results = measure(net, runners, args, console)
    compiled = "compile: " + (f"{args.compile_backend}" + (f", mode {args.compile_mode}" if args.compile_mode else ""))
    layout = "channels_last, " if args.channels_last else ""
    title = (
        f"inference, {args.encoder}, {args.input_size} px, {hand}, {args.device}, {layout}{compiled}; "
        f"latency over {args.runs} runs, throughput over {args.iters} iterations"
    )
    console.print(summary_table(results, args.batches, title))
    rows = to_rows(results, args.batches)
    if args.verbose:
        console.print(rows_table("all numbers", rows))
    return rows, machine


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    cuda = default_device() == "cuda"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="fastvit_ma36", help="timm model name")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--runs", type=int, default=200 if cuda else 30, help="batch-1 calls timed")
    parser.add_argument("--warmup", type=int, default=20 if cuda else 3, help="untimed batch-1 calls first")
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=[64, 256] if cuda else [8, 32],
        help="throughput batch sizes (the first one is also the agreement check's)",
    )
    parser.add_argument("--iters", type=int, default=20 if cuda else 3, help="timed calls per throughput batch")
    parser.add_argument("--warmup-iters", type=int, default=5 if cuda else 1, help="untimed calls per batch size")
    parser.add_argument(
        "--compile-mode",
        default="reduce-overhead" if cuda else None,
        help="torch.compile mode (GPU default reduce-overhead: CUDA graphs; or max-autotune)",
    )
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (aot_eager: no codegen)")
    parser.add_argument("--channels-last", action="store_true", help="channels-last encoder (PyTorch paths)")
    parser.add_argument("--verbose", action="store_true", help="also print every number as a row")
    add_model_arguments(parser, "torch and ONNX Runtime CPU threads (0: defaults)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    """Run the benchmark, print the table, optionally write JSON."""
    return run_main("inference", parse_args(argv), run)


if __name__ == "__main__":
    main()
