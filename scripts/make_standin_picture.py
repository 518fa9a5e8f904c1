"""Render the procedural STAND-IN hand model (not MANO) in rest pose and three articulated poses.

    PYOPENGL_PLATFORM=egl python scripts/make_standin_picture.py --out docs/images/standin.png

Columns: rest (flat), fist, pointing, pinch; top row seen from the palm, bottom row from the back
at three quarters. Every panel is labelled as the stand-in, never as MANO.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from handmesh.geometry.rotation import axis_angle_to_matrix  # noqa: E402
from handmesh.mano.hand_model import HandModel  # noqa: E402
from handmesh.mano.standin import standin_pose, write_standin  # noqa: E402
from handmesh.render.renderer import Renderer  # noqa: E402

POSES = (("flat", "rest pose"), ("fist", "fist"), ("point", "pointing"), ("pinch", "pinch"))
LABEL = "procedural STAND-IN (not MANO)"
# Canonical MANO frame -> camera: fingers (-x) up, palm (-y) toward the camera, thumb (+z) to the right.
_PALM_VIEW = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _rotation(axis: tuple[float, float, float], degrees: float) -> np.ndarray:
    aa = torch.tensor(axis, dtype=torch.float64) * np.deg2rad(degrees)
    return axis_angle_to_matrix(aa[None])[0].numpy()


VIEWS = (
    ("palm", _rotation((1.0, 0.0, 0.0), -15) @ _rotation((0.0, 1.0, 0.0), 20) @ _PALM_VIEW),
    ("back", _rotation((1.0, 0.0, 0.0), 20) @ _rotation((0.0, 1.0, 0.0), 145) @ _PALM_VIEW),
)


def render_panel(renderer: Renderer, vertices: np.ndarray, faces: np.ndarray, rotation: np.ndarray,
                 size: int) -> np.ndarray:  # fmt: skip
    """Render `vertices` (canonical frame) rotated into the camera, centred and framed in a square."""
    v = vertices @ rotation.T
    v = v - 0.5 * (v.max(axis=0) + v.min(axis=0))
    extent = float(np.abs(v[:, :2]).max())
    depth = 0.5
    focal = 0.42 * size * depth / extent  # the hand fills ~85% of the panel
    K = np.array([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]])
    return renderer.render(v + np.array([0.0, 0.0, depth]), faces, K, (size, size)).rgb


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int],
          thickness: int = 1) -> None:  # fmt: skip
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def make_picture(out: Path, size: int = 320) -> Path:
    """Write the picture to `out` (PNG) and return the path."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = write_standin(Path(tmp) / "standin_MANO_RIGHT.pkl", side="right")
        hand = HandModel(model_path, flat_hand_mean=True, dtype=torch.float64)
    faces = hand.faces.numpy()
    poses = torch.as_tensor(np.stack([standin_pose(name) for name, _ in POSES]))
    verts = hand(torch.zeros(len(POSES), 3, dtype=torch.float64), poses).vertices.numpy()

    header, caption = 56, 28
    grid = np.full((header + len(VIEWS) * (size + caption), len(POSES) * size, 3), 255, np.uint8)
    _text(grid, LABEL, (12, 38), 1.0, (170, 20, 20), 2)
    with Renderer() as renderer:
        for row, (view_name, rotation) in enumerate(VIEWS):
            top = header + row * (size + caption)
            for col, (_, title) in enumerate(POSES):
                x0 = col * size
                grid[top + caption : top + caption + size, x0 : x0 + size] = render_panel(
                    renderer, verts[col], faces, rotation, size
                )
                _text(grid, f"{title} ({view_name} view)", (x0 + 10, top + 20), 0.55, (40, 40, 40))
                _text(grid, "STAND-IN", (x0 + size - 88, top + caption + size - 10), 0.5, (170, 20, 20))
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {out}")
    return out


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/standin.png"))
    parser.add_argument("--size", type=int, default=320, help="panel size in pixels")
    args = parser.parse_args(argv)
    print(f"wrote {make_picture(args.out, args.size)} ({LABEL})")


if __name__ == "__main__":
    main()
