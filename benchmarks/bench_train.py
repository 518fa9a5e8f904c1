"""Benchmark one training step (forward + losses + backward + Adam step) of HandMeshModule on synthetic batches.

    python benchmarks/bench_train.py [--encoder fastvit_ma36] [--input-size 224] [--batch-sizes 8 32]
        [--precision fp32 bf16 fp16] [--channels-last] [--compile] [--adam auto|fused|foreach|for-loop]
        [--steps 10] [--warmup 3] [--json out.json]

The step is the module's own: `forward_step` (channels-last and torch.compile switches included) and
`compute_loss`, all under autocast for bf16/fp16 (as Lightning's mixed precision does), fp16 with a
GradScaler, then the Adam step (`configure_optimizers`'s choice of fused/foreach unless --adam says).
Batches are random images with ground truth made by the MANO layer from random poses, already on the
device: no data loading is measured. Encoder weights are random (pretrained=False): the speed is the same.

Reported per batch size: images/s and ms per step (mean over --steps after --warmup, synchronised), peak
memory (GPU: torch.cuda.max_memory_allocated; CPU: the process's peak RSS, model and optimizer included),
and the forward+backward FLOPs (counted once with FlopCounterMode: convolutions and matrix products) as
achieved TFLOP/s. On a GPU the achievable matrix-unit peak is measured with a large bf16 matmul and the
achieved rate is given as a fraction of it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Row,
    add_model_arguments,
    default_device,
    machine_info,
    machine_line,
    mano_path,
    peak_memory_mib,
    reset_peak_memory,
    rows_table,
    run_main,
    time_loop,
)

from handmesh.geometry.camera import pixels_to_normalized, project  # noqa: E402
from handmesh.lightning_module import HandMeshModule  # noqa: E402
from handmesh.mano.constants import ROOT_KEYPOINT  # noqa: E402

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                         _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:  # fmt: skip
    """FLOPs of `aten.convolution_backward`: each requested gradient (input, weight) costs what the forward does.

    Replaces FlopCounterMode's own formula, whose weight-gradient term ignores `groups` (in this torch; fixed
    upstream later) and so counts a depthwise convolution's weight gradient `channels` times over: FastViT is
    full of depthwise convolutions, and the forward+backward count came out ~4x too high.
    """
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


FLOP_FORMULAS = {torch.ops.aten.convolution_backward: _conv_backward_flops}


def synthetic_batch(module: HandMeshModule, batch_size: int, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A training batch in `FreiHANDDataset`'s format: random images, plausible hands from random MANO poses
    placed 0.5-0.8 m in front of a camera with f ~ 2.2 S, on `device`."""
    g = torch.Generator().manual_seed(seed)
    S = module.hparams.input_size
    B = batch_size
    global_orient = torch.randn(B, 3, generator=g) * 0.8
    hand_pose = torch.randn(B, 45, generator=g) * 0.3
    betas = torch.randn(B, 10, generator=g) * 0.5
    on = module.hand_model.v_template.device
    with torch.no_grad():
        out = module.hand_model(global_orient.to(on), hand_pose.to(on), betas.to(on))
    root = out.keypoints[:, ROOT_KEYPOINT : ROOT_KEYPOINT + 1].cpu()
    keypoints_rel, vertices_rel = out.keypoints.cpu() - root, out.vertices.cpu() - root
    position = torch.stack([torch.randn(B, generator=g) * 0.03, torch.randn(B, generator=g) * 0.03,
                            0.5 + 0.3 * torch.rand(B, generator=g)], -1)[:, None]  # fmt: skip
    K = torch.zeros(B, 3, 3)
    K[:, 0, 0] = K[:, 1, 1] = 2.2 * S
    K[:, 0, 2] = K[:, 1, 2] = S / 2
    K[:, 2, 2] = 1.0
    keypoints3d = keypoints_rel + position
    batch = {
        "image": torch.randn(B, 3, S, S, generator=g),
        "K": K,
        "keypoints3d": keypoints3d,
        "vertices": vertices_rel + position,
        "keypoints3d_rel": keypoints_rel,
        "vertices_rel": vertices_rel,
        "keypoints2d": pixels_to_normalized(project(keypoints3d, K), S),
        "global_orient": global_orient,
        "hand_pose": hand_pose,
        "betas": betas,
        "index": torch.arange(B),
    }
    return {k: v.to(device, torch.float32 if v.is_floating_point() else v.dtype) for k, v in batch.items()}


def make_optimizer(module: HandMeshModule, adam: str) -> torch.optim.Optimizer:
    """The module's own optimizer ("auto"), or Adam with the given implementation, same hyperparameters."""
    if adam == "auto":
        return module.configure_optimizers()["optimizer"]
    flags = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}[adam]
    hp = module.hparams
    return torch.optim.Adam(module.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, **flags)


def adam_kind(opt: torch.optim.Optimizer) -> str:
    """Which Adam implementation `opt` uses."""
    if opt.defaults.get("fused"):
        return "fused"
    return "for-loop" if opt.defaults.get("foreach") is False else "foreach"


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    dtype = DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class TrainStep:
    """One optimisation step of `module` on a fixed batch, as Lightning runs it (autocast around the forward
    and the losses, GradScaler for fp16)."""

    def __init__(self, module: HandMeshModule, batch: dict[str, torch.Tensor], precision: str, adam: str) -> None:
        self.module, self.batch, self.precision = module, batch, precision
        self.device = str(batch["image"].device)
        self.optimizer = make_optimizer(module, adam)
        self.scaler = torch.amp.GradScaler(torch.device(self.device).type) if precision == "fp16" else None

    def losses(self, compiled: bool = True) -> torch.Tensor:
        """The total loss of a forward pass (through `forward_step`, or the plain network with compiled=False)."""
        with _autocast(self.device, self.precision):
            if compiled:
                pred = self.module.forward_step(self.batch)
            else:
                images = self.batch["image"]
                if self.module.hparams.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                pred = self.module.net(images, self.batch["K"])
            return self.module.compute_loss(pred, self.batch)["total"]

    def __call__(self) -> None:
        loss = self.losses()
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def count_flops(self) -> int:
        """FLOPs of forward + losses + backward (eager; the optimizer step's elementwise work is not counted)."""
        with FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS) as counter:
            self.losses(compiled=False).backward()
        self.optimizer.zero_grad(set_to_none=True)
        return int(counter.get_total_flops())


def matmul_peak_tflops(device: str, n: int = 8192, iters: int = 20) -> float:
    """Measured bf16 matrix-unit rate (TFLOP/s) of an n x n x n matmul: the practical peak to compare with."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    seconds = time_loop(lambda: a @ b, iters, warmup=3, device=device)
    return 2 * n**3 / seconds / 1e12


def build_module(args: argparse.Namespace, device: str) -> HandMeshModule:
    """HandMeshModule with random encoder weights, the chosen switches, in training mode on `device`."""
    torch.manual_seed(0)
    module = HandMeshModule(
        encoder=args.encoder,
        pretrained=False,
        mano_path=str(mano_path(args.mano)),
        input_size=args.input_size,
        channels_last=args.channels_last,
        compile=args.compile,
    )
    return module.to(device).train()


def run(args: argparse.Namespace, console: Console) -> tuple[list[Row], dict]:
    """Measure every (precision, batch size); returns the rows and the machine description."""
    device = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        if args.tf32:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    machine = machine_info(device)
    console.print(machine_line(machine))
    rows: list[Row] = []
    peak = None
    if device.startswith("cuda"):
        peak = matmul_peak_tflops(device)
        rows.append(Row("bf16 matmul 8192^3", "measured peak", peak, "TFLOP/s"))
    hand, n_params, flops_per_image = "", 0.0, None
    for precision in args.precision:
        for bs in args.batch_sizes:
            module = build_module(args, device)  # fresh weights and optimizer state for each point
            step = TrainStep(module, synthetic_batch(module, bs, device), precision, args.adam)
            if flops_per_image is None:
                hand = "STAND-IN hand model" if getattr(module.hand_model, "is_standin", False) else "MANO"
                n_params = sum(p.numel() for p in module.parameters()) / 1e6
                flops_per_image = step.count_flops() / bs
            gc.collect()
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
            reset_peak_memory(device)
            case = (f"bs {bs}, {precision}" + (", channels_last" if args.channels_last else "")
                    + (", compile" if args.compile else "") + f", {adam_kind(step.optimizer)} Adam")  # fmt: skip
            start = time.perf_counter()
            try:
                seconds = time_loop(step, args.steps, args.warmup, device)
            except torch.cuda.OutOfMemoryError:
                console.print(f"[red]{case}: out of memory, skipped")
                del step, module
                continue
            total = time.perf_counter() - start
            memory = peak_memory_mib(device)
            tflops = flops_per_image * bs / seconds / 1e12
            console.print(f"{case}: {bs / seconds:.1f} img/s ({total:.1f} s with warm-up)")
            rows += [
                Row(case, "throughput", bs / seconds, "img/s"),
                Row(case, "step time", seconds * 1e3, "ms"),
                Row(case, "peak memory" + (" (allocated)" if peak is not None else " (RSS)"), memory, "MiB"),
                Row(case, "achieved", tflops, "TFLOP/s"),
            ]
            if peak is not None:
                rows.append(Row(case, "of bf16 matmul peak", 100 * tflops / peak, "%"))
            compiled = step.module._compiled_net
            if compiled is not None and compiled.error is not None:
                console.print(f"[yellow]{case}: torch.compile failed, these are eager numbers ({compiled.error})")
            del step, module
    console.print(
        rows_table(
            f"training step: {args.encoder} ({n_params:.1f} M parameters), {args.input_size} px, {hand}, "
            f"forward+backward {flops_per_image / 1e9:.2f} GFLOP/image, {args.steps} steps after {args.warmup}, "
            f"{device}",
            rows,
        )
    )
    return rows, machine


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    cuda = default_device() == "cuda"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="fastvit_ma36", help="timm model name")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128] if cuda else [8, 32])
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=sorted(DTYPES),
        default=["fp32", "bf16"] if cuda else ["fp32"],
        help="fp32, bf16 autocast, fp16 autocast with GradScaler",
    )
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (HandMeshModule's switch)")
    parser.add_argument("--adam", choices=["auto", "fused", "foreach", "for-loop"], default="auto",
                        help="auto: the module's configure_optimizers (fused on a GPU)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=20 if cuda else 5, help="timed steps per point")
    parser.add_argument("--warmup", type=int, default=5 if cuda else 2, help="untimed steps first (compilation too)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls/convolutions for fp32 (GPU)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    add_model_arguments(parser, "torch CPU threads (0: torch's default)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    """Run the benchmark, print the table, optionally write JSON."""
    return run_main("train", parse_args(argv), run)


if __name__ == "__main__":
    main()
