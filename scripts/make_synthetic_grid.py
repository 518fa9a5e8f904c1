"""Picture of the synthetic FreiHAND-format set: samples in the four versions with their ground truth drawn over.

    python scripts/make_synthetic_grid.py [--root data/synthetic] [--out docs/images/synthetic_samples.png]

Without an existing --root it writes a small set (stand-in hand) to a temporary folder. The mesh
wireframe and keypoint skeleton are projected from the written JSON (training_verts/xyz/K), so
they show exactly what a training sample's annotation says.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from handmesh.data.layout import SYNTHETIC_MARKER, image_id, json_path, rgb_path
from handmesh.data.synthetic import ensure_synthetic
from handmesh.mano.constants import FREIHAND_VERSIONS, KEYPOINT_PARENTS
from handmesh.mano.file import load_mano_file
from handmesh.mano.standin import ensure_standin

FINGER_COLOURS = [(0, 0, 255), (0, 165, 255), (0, 220, 0), (255, 128, 0), (255, 0, 200)]  # BGR, thumb..pinky


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def draw_annotation(image: np.ndarray, verts: np.ndarray, xyz: np.ndarray, K: np.ndarray, edges: np.ndarray,
                    scale: int) -> np.ndarray:  # fmt: skip
    """Image upscaled by `scale` with the projected mesh wireframe and keypoint skeleton drawn over it."""
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    shift = 4  # sub-pixel drawing
    to_px = lambda uv: np.round(((uv + 0.5) * scale - 0.5) * (1 << shift)).astype(np.int32)  # noqa: E731
    wire = big.copy()
    uv = to_px(_project(verts, K))
    cv2.polylines(wire, list(uv[edges]), False, (255, 255, 255), 1, cv2.LINE_AA, shift)
    big = cv2.addWeighted(wire, 0.35, big, 0.65, 0)
    kp = to_px(_project(xyz, K))
    for j, parent in enumerate(KEYPOINT_PARENTS):
        if parent >= 0:
            colour = FINGER_COLOURS[(j - 1) // 4]
            cv2.line(big, tuple(kp[parent]), tuple(kp[j]), colour, 2, cv2.LINE_AA, shift)
    for j in range(len(kp)):
        cv2.circle(big, tuple(kp[j]), 3 << shift, (255, 255, 255), -1, cv2.LINE_AA, shift)
    return big


def make_grid(root: Path, samples: list[int], faces: np.ndarray, tile: int = 224, scale: int = 1) -> np.ndarray:
    """Rows: samples; columns: the four versions; a header row with the version names."""
    K = np.asarray(json.loads(json_path(root, "training", "K").read_text()))
    verts = np.asarray(json.loads(json_path(root, "training", "verts").read_text()))
    xyz = np.asarray(json.loads(json_path(root, "training", "xyz").read_text()))
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    header = np.full((28, tile * len(FREIHAND_VERSIONS), 3), 255, np.uint8)
    for v, name in enumerate(FREIHAND_VERSIONS):
        label = f"v{v} {name}  (id = i + 32560*{v})"
        cv2.putText(header, label, (v * tile + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for i in samples:
        tiles = []
        for v in range(len(FREIHAND_VERSIONS)):
            image = cv2.imread(str(rgb_path(root, "training", image_id(i, v))))
            drawn = draw_annotation(image, verts[i], xyz[i], K[i], edges, scale)
            tiles.append(cv2.resize(drawn, (tile, tile), interpolation=cv2.INTER_AREA))
        rows.append(np.hstack(tiles))
    footer = np.full((24, tile * len(FREIHAND_VERSIONS), 3), 255, np.uint8)
    text = "synthetic FreiHAND-format set rendered from the procedural STAND-IN hand (not MANO); GT from JSON"
    cv2.putText(footer, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 160), 1, cv2.LINE_AA)
    rows.append(footer)
    return np.vstack(rows)


def main() -> None:
    """Write the picture."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/synthetic_samples.png"))
    parser.add_argument("--mano", type=Path, default=None, help="the model the set was made from (default: stand-in)")
    parser.add_argument("--samples", type=int, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args()
    faces = load_mano_file(args.mano or ensure_standin())["f"]
    with tempfile.TemporaryDirectory() as tmp:
        # the generator's default scenes (what the demo trains on), a small set
        made = (args.root / SYNTHETIC_MARKER).is_file()
        root = args.root if made else ensure_synthetic(Path(tmp) / "set", 8, 0, seed=0)
        grid = make_grid(root, args.samples, faces, scale=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
