"""Export a trained model to ONNX (image + K -> vertices, keypoints, MANO parameters, camera).

    python -m handmesh.export --ckpt runs/.../last.ckpt --out model.onnx

The network is structurally reparameterised first (timm: FastViT's training-time branches fused into
single convolutions), then exported with a dynamic batch axis and checked against PyTorch with ONNX
Runtime on random inputs; the largest absolute difference per output is printed.

Inputs: `image` (B, 3, S, S) float32 normalised like the training data (ImageNet mean/std, RGB) and
`K` (B, 3, 3) float32 intrinsics of that input. Outputs (`OUTPUT_NAMES`): `vertices` (B, 778, 3) and
`keypoints` (B, 21, 3) in the camera frame (metres, FreiHAND order), `keypoints2d` (B, 21, 2)
normalised input coordinates, `rotmats` (B, 16, 3, 3) absolute MANO joint rotations (global + 15
fingers), `betas` (B, 10), `cam` (B, 3) weak-perspective (s, tx, ty), `transl` (B, 3) camera-frame
position of keypoint 9. The MANO model's arrays are baked into the file as constants: an ONNX file
made from the real MANO model falls under the MANO licence (do not redistribute it).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from handmesh.atomic import atomic_path
from handmesh.mano.file import MANOFileError
from handmesh.model.encoder import reparameterize

log = logging.getLogger(__name__)

INPUT_NAMES = ("image", "K")
OUTPUT_NAMES = ("vertices", "keypoints", "keypoints2d", "rotmats", "betas", "cam", "transl")
DEFAULT_OPSET = 17


class ExportError(RuntimeError):
    """The checkpoint could not be read or the exported model does not match PyTorch."""


class ExportableRegressor(nn.Module):
    """A `HandRegressor` returning a plain tuple (ONNX needs tensors, not a NamedTuple), in `OUTPUT_NAMES` order."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.input_size = int(net.input_size)

    def forward(self, image: Tensor, K: Tensor) -> tuple[Tensor, ...]:
        pred = self.net(image, K)
        return tuple(getattr(pred, name) for name in OUTPUT_NAMES)


def load_regressor(ckpt: str | Path, map_location: str = "cpu") -> nn.Module:
    """The `HandRegressor` of a Lightning checkpoint of `HandMeshModule`, in eval mode.

    No ImageNet weights are fetched (`pretrained=False`: the checkpoint holds the trained ones). The
    MANO file named in the checkpoint's hyperparameters must exist (the stand-in is re-created).
    """
    path = Path(ckpt)
    if not path.is_file():
        raise ExportError(f"checkpoint not found: {path}")
    from handmesh.lightning_module import HandMeshModule  # heavy (Lightning); only needed here

    try:
        module = HandMeshModule.load_from_checkpoint(str(path), map_location=map_location, pretrained=False)
    except MANOFileError:  # its message already says what to do
        raise
    except (KeyError, RuntimeError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        raise ExportError(f"could not load a HandMeshModule from {path}: {type(exc).__name__}: {exc}") from exc
    return module.net.eval()


def example_inputs(batch: int, input_size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random normalised images (B, 3, S, S) and plausible intrinsics (B, 3, 3) for tracing and checks."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, input_size, input_size, generator=g)
    focal = input_size * (2.0 + torch.rand(batch, generator=g))  # ~ FreiHAND's 224 px crops, f ~ 500-700
    centre = input_size / 2 + 2.0 * torch.randn(batch, 2, generator=g)
    K = torch.zeros(batch, 3, 3)
    K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = focal, focal, 1.0
    K[:, :2, 2] = centre
    return images, K


def export_onnx(
    net: nn.Module,
    out: str | Path,
    opset: int = DEFAULT_OPSET,
    reparameterized: bool = True,
) -> Path:
    """Write `net` (a `HandRegressor`) to an ONNX file with a dynamic batch axis; returns the path.

    `reparameterized`: fuse the encoder's training-time branches first (the network itself is untouched).
    """
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ExportError(f"output must be a .onnx file, got {out}")
    model = reparameterize(net) if reparameterized else net
    wrapper = ExportableRegressor(model).eval()
    inputs = example_inputs(2, wrapper.input_size)
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    with atomic_path(out) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=".*[Cc]onstant folding.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(
            wrapper,
            inputs,
            str(tmp),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic batch works
        )
    return out


def onnx_session(path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU inference session for `path`."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def compare_with_torch(path: str | Path, net: nn.Module, batch: int = 3, seed: int = 1) -> dict[str, float]:
    """Max absolute difference per output between ONNX Runtime and PyTorch (`net`) on random inputs.

    `batch` differs from the export's batch of 2 on purpose: it exercises the dynamic axis.
    """
    wrapper = ExportableRegressor(net).eval()
    images, K = example_inputs(batch, wrapper.input_size, seed)
    with torch.no_grad():
        expected = wrapper(images, K)
    got = onnx_session(path).run(list(OUTPUT_NAMES), {"image": images.numpy(), "K": K.numpy()})
    diffs = {}
    for name, ref, value in zip(OUTPUT_NAMES, expected, got, strict=True):
        if tuple(ref.shape) != value.shape:
            raise ExportError(f"{path}: output {name} has shape {value.shape}, PyTorch gives {tuple(ref.shape)}")
        diffs[name] = float(np.abs(ref.numpy().astype(np.float64) - value.astype(np.float64)).max())
    return diffs


def main(argv: list[str] | None = None) -> dict[str, float]:
    """CLI: export a checkpoint to ONNX and compare it with PyTorch."""
    parser = argparse.ArgumentParser(prog="python -m handmesh.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, type=Path, help="Lightning checkpoint of HandMeshModule")
    parser.add_argument("--out", required=True, type=Path, help="output .onnx file")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--no-reparameterize", action="store_true", help="export the training-time graph")
    parser.add_argument("--check-batch", type=int, default=3, help="batch size of the ONNX Runtime check")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="fail if any max abs difference exceeds this")
    args = parser.parse_args(argv)
    net = load_regressor(args.ckpt)
    reparam = not args.no_reparameterize
    path = export_onnx(net, args.out, opset=args.opset, reparameterized=reparam)
    # Against the same graph that was exported, and against the eager (training-time) network.
    diffs = compare_with_torch(path, reparameterize(net) if reparam else net, batch=args.check_batch)
    eager = compare_with_torch(path, net, batch=args.check_batch) if reparam else diffs
    standin = " (procedural STAND-IN hand model, not MANO)" if getattr(net.hand_model, "is_standin", False) else ""
    print(f"wrote {path}{standin}, {'reparameterised' if reparam else 'training-time'} graph, opset {args.opset}")
    print(f"  {'output':12s} {'vs exported graph':>18s} {'vs eager PyTorch':>18s}")
    for name, value in diffs.items():
        print(f"  {name:12s} {value:18.3e} {eager[name]:18.3e}")
    worst = max(diffs.values())
    print(f"max abs diff ONNX Runtime vs PyTorch (all outputs): {worst:.3e} (vs eager: {max(eager.values()):.3e})")
    if worst > args.tolerance:
        raise SystemExit(f"ONNX Runtime differs from PyTorch by {worst:.3e} > {args.tolerance:g}: {path}")
    return diffs


if __name__ == "__main__":
    main()
