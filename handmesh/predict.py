"""Predict hand meshes with a trained checkpoint.

    python -m handmesh.predict --ckpt runs/demo/.../last.ckpt --data data/FreiHAND_pub_v2 --out preds/

On a FreiHAND-layout root it predicts the evaluation split and writes `pred.zip` (FreiHAND's
submission format). On a plain folder of hand-crop images it writes `predictions.npz` (keypoints,
vertices, camera, file names). `--meshes` also writes one `.obj` per image.
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from handmesh.atomic import atomic_write, file_in_the_way
from handmesh.data.errors import DataError, error_message
from handmesh.data.freihand import FreiHANDDataset
from handmesh.data.image_folder import ImageFolderDataset
from handmesh.data.layout import json_path
from handmesh.inference import predict_arrays
from handmesh.lightning_module import HandMeshModule
from handmesh.mano.file import MANOFileError
from handmesh.mesh_io import save_meshes
from handmesh.model.inference_model import prepare_for_inference
from handmesh.submission import SubmissionError, write_submission


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded as a handmesh model; the message names the file."""


def load_model(ckpt: str | Path, mano_path: str | None = None, map_location: str = "cpu") -> HandMeshModule:
    """A trained module from a Lightning checkpoint, without downloading encoder weights.

    Raises CheckpointError for a file that is not a readable handmesh checkpoint (truncated, corrupt, another
    model's), MANOFileError when the MANO file it was trained with (or `mano_path`) is missing or wrong.
    """
    overrides: dict = {"pretrained": False, "encoder_checkpoint": None}
    if mano_path is not None:
        overrides["mano_path"] = mano_path
    try:
        return HandMeshModule.load_from_checkpoint(ckpt, map_location=map_location, **overrides)
    except MANOFileError:
        raise
    except (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, TypeError, zipfile.BadZipFile) as e:
        first_line = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{ckpt}: cannot load it as a handmesh checkpoint ({type(e).__name__}: {first_line})"
        ) from None


def _is_freihand_root(path: Path) -> bool:
    return any(json_path(path, split, "K").is_file() for split in ("evaluation", "training"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m handmesh.predict`."""
    ap = argparse.ArgumentParser(prog="python -m handmesh.predict", description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="Lightning checkpoint (.ckpt)")
    ap.add_argument("--data", required=True, help="FreiHAND-layout root, or a folder of hand-crop images")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--split", default="evaluation", help="split of a FreiHAND root (default: evaluation)")
    ap.add_argument("--meshes", action="store_true", help="also write one .obj mesh per image")
    ap.add_argument("--mano", default=None, help="MANO file (default: the one the checkpoint was trained with)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the reparameterised network")
    args = ap.parse_args(argv)

    ckpt, data, out = Path(args.ckpt), Path(args.data), Path(args.out)
    if not ckpt.is_file():
        print(f"error: checkpoint not found: {ckpt}", file=sys.stderr)
        return 2
    if not data.is_dir():
        print(f"error: data folder not found: {data}", file=sys.stderr)
        return 2
    blocking = file_in_the_way(out)
    if blocking is not None:
        print(f"error: cannot write to {out}: {blocking} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        module = load_model(ckpt, args.mano)
        size = module.hparams.input_size
        freihand = _is_freihand_root(data)
        dataset = FreiHANDDataset(data, args.split, input_size=size) if freihand else ImageFolderDataset(data, size)
        loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers)
        net = prepare_for_inference(module.net, compile=args.compile, device=args.device)  # reparameterised copy
        pred = predict_arrays(net, loader, device=args.device)  # bad images raise here, before any output
        out.mkdir(parents=True, exist_ok=True)
        if freihand:
            written = write_submission(out / "pred.zip", pred["keypoints"], pred["vertices"], len(dataset))
            names = [f"{dataset.locate(i)[1]:08d}" for i in range(len(dataset))]
        else:
            names = [Path(p).stem for p in dataset.files]
            written = out / "predictions.npz"
            buffer = io.BytesIO()
            np.savez_compressed(buffer, names=np.array(names), **pred)
            atomic_write(written, buffer.getvalue())
    except (DataError, MANOFileError, SubmissionError, CheckpointError) as e:
        print(f"error: {error_message(e)}", file=sys.stderr)
        return 2
    print(f"wrote {written} ({len(names)} images)")
    if args.meshes:
        save_meshes(out / "meshes", pred["vertices"], module.hand_model.faces.cpu().numpy(), names)
        print(f"wrote {len(names)} meshes to {out / 'meshes'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
