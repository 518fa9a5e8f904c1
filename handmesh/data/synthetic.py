"""Write a synthetic data set in EXACTLY FreiHAND's layout, rendered from a MANO model (the stand-in by default).

    python -m handmesh.data.synthetic --out data/synthetic --train 1000 --eval 100 \
        [--mano PATH] [--seed 0] [--workers 2]

Layout (DESIGN.md §2): training/rgb/%08d.jpg at FreiHAND's ids (id = idx + 32560 * v for the 4
versions v = 0 gs, 1 hom, 2 sample, 3 auto: the same rendered hand over four kinds of background),
training/mask/%08d.jpg (one per unique sample), evaluation/rgb/%08d.jpg (a random background kind
each), training_{K,mano,xyz,verts,scale}.json and evaluation_{K,scale,xyz,verts,mano}.json in
FreiHAND's shapes. Annotations follow FreiHAND's rule (see `synthetic_hands`). Deterministic for a
seed (same seed: identical JSON and images), whatever the number of workers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from handmesh.atomic import atomic_write
from handmesh.data.backgrounds import background
from handmesh.data.errors import DataError
from handmesh.data.layout import SYNTHETIC_MARKER, image_id, json_path, mask_path, rgb_path
from handmesh.data.synthetic_hands import (
    APPEARANCE_STREAM,
    SceneConfig,
    SyntheticHands,
    pose_prior_std,
    sample_hands,
    sample_rng,
)
from handmesh.mano.constants import FREIHAND_TRAIN_UNIQUE, FREIHAND_VERSIONS
from handmesh.mano.file import load_mano_file
from handmesh.mano.hand_model import HandModel

if TYPE_CHECKING:  # the renderer is imported only where images are made (worker processes)
    from handmesh.render.renderer import Light, Renderer

log = logging.getLogger(__name__)

JPEG_QUALITY = 95
# Skin tones (RGB), light to dark; a sample's tone is a random blend of two neighbours.
SKIN_TONES = np.array(
    [[235, 200, 175], [225, 180, 150], [210, 160, 125], [185, 125, 90], [150, 98, 68], [105, 68, 48]], np.float64
)


def _skin_colours(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-vertex RGBA (778, 4) uint8: a random skin tone with a soft, low-frequency variation."""
    i = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(i)
    tone = SKIN_TONES[lo] * (1 - (i - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (i - lo)
    tone = tone * rng.uniform(0.85, 1.1, size=3)
    centred = vertices - vertices.mean(axis=0)
    variation = np.zeros(len(vertices))
    for _ in range(3):
        direction = rng.normal(size=3)
        variation += np.sin(centred @ direction * rng.uniform(40, 120) + rng.uniform(0, 2 * np.pi))
    rgb = tone[None] * (1.0 + 0.04 * variation[:, None])
    alpha = np.full((len(vertices), 1), 255.0)
    return np.clip(np.concatenate([rgb, alpha], axis=1), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SyntheticSpec:
    """A synthetic set to make (if missing) before training: see `ensure_synthetic`. Used by FreiHANDDataModule.

    train: unique training samples (4 images each); eval: evaluation samples; seed: random seed;
    mano_path: the MANO pickle to render (None: the procedural stand-in, written if missing).
    """

    train: int
    eval: int
    seed: int = 0
    mano_path: str | None = None


def _random_lights(rng: np.random.Generator) -> tuple[Light, ...]:
    """A key light and up to two weaker ones, mostly from the camera side, with random colour and strength."""
    from handmesh.render.renderer import Light

    lights = []
    for i in range(int(rng.integers(1, 4))):
        direction = (rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.3, 1.5))
        colour = tuple(float(c) for c in np.clip(1.0 + rng.normal(0, 0.08, size=3), 0.7, 1.2))
        intensity = rng.uniform(1.2, 2.8) if i == 0 else rng.uniform(0.3, 1.2)
        lights.append(Light("directional", direction=direction, color=colour, intensity=intensity))
    return tuple(lights)


def render_hand(
    renderer: Renderer, vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render a skin-coloured hand under random lights (black background).

    Returns RGB (S, S, 3) uint8 premultiplied by coverage, coverage (S, S) float32 in [0, 1] (anti-aliased)
    and the mask (S, S) bool (pixel centre on the hand).
    """
    renderer.lights = _random_lights(rng)
    renderer.ambient = tuple(np.full(3, rng.uniform(0.1, 0.35)))
    out = renderer.render(
        vertices, faces, K, (size, size), vertex_colors=_skin_colours(vertices, rng), bg_color=(0.0, 0.0, 0.0)
    )
    return out.rgb, out.alpha, out.mask


def _composite(
    hand_rgb: np.ndarray, coverage: np.ndarray, back_bgr: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Hand (premultiplied RGB) over a BGR background, plus a little sensor noise: uint8 BGR (S, S, 3)."""
    a = coverage[..., None]
    image = hand_rgb[..., ::-1].astype(np.float32) + back_bgr.astype(np.float32) * (1.0 - a)
    image += rng.normal(0.0, 1.5, size=image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"could not write {path}")


# ---- worker processes: one renderer each ----
_WORKER: dict[str, Any] = {}


def _init_worker(faces: np.ndarray, root: str, seed: int, size: int) -> None:
    from handmesh.render.renderer import Material, Renderer

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    renderer = Renderer(material=Material(roughness=0.8), bg_color=(0.0, 0.0, 0.0))
    _WORKER.update(renderer=renderer, faces=faces, root=Path(root), seed=seed, size=size)


def _render_sample(task: tuple[str, int, np.ndarray, np.ndarray]) -> int:
    """Render one unique sample and write its images (and mask); returns the number of images written."""
    split, idx, vertices, K = task
    root, size = _WORKER["root"], _WORKER["size"]
    rng = sample_rng(_WORKER["seed"], split, idx, APPEARANCE_STREAM)
    hand_rgb, coverage, mask = render_hand(_WORKER["renderer"], vertices, _WORKER["faces"], K, size, rng)
    if split == "training":
        for version in range(len(FREIHAND_VERSIONS)):
            back = background(version, size, rng)
            _write_jpeg(rgb_path(root, split, image_id(idx, version)), _composite(hand_rgb, coverage, back, rng))
        _write_jpeg(mask_path(root, split, idx), mask.astype(np.uint8) * 255)
        return len(FREIHAND_VERSIONS)
    back = background(int(rng.integers(len(FREIHAND_VERSIONS))), size, rng)
    _write_jpeg(rgb_path(root, split, idx), _composite(hand_rgb, coverage, back, rng))
    return 1


def _run_tasks(tasks: list, faces: np.ndarray, root: Path, seed: int, size: int, workers: int) -> Iterator[int]:
    if workers <= 1:
        _init_worker(faces, str(root), seed, size)
        try:
            yield from map(_render_sample, tasks)
        finally:
            _WORKER.pop("renderer").close()
        return
    # Not plain fork: a parent that already ran torch (OpenMP thread pools) or a GL context can leave a
    # forked child deadlocked on a lock copied mid-use. The forkserver is a fresh process with this
    # module preloaded, so workers still start fast.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ctx.Pool(workers, _init_worker, (faces, str(root), seed, size)) as pool:
        yield from pool.imap_unordered(_render_sample, tasks, chunksize=4)


# ---- annotations ----
def _write_json(path: Path, array: np.ndarray) -> None:
    atomic_write(path, json.dumps(array.tolist()).encode())


def _write_annotations(root: Path, split: str, hands: SyntheticHands) -> None:
    for name in ("K", "mano", "xyz", "verts", "scale"):
        _write_json(json_path(root, split, name), getattr(hands, name))


def _file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _resolve_model(mano_path: str | Path | None) -> Path:
    """The model file: `mano_path`, or the stand-in (default path); a stand-in path (`standin` in the file
    name) is written if absent, a missing real MANO file gets load_mano_file's error (where to get it)."""
    from handmesh.mano.standin import ensure_standin

    if mano_path is None:
        return Path(ensure_standin())
    path = Path(mano_path)
    if "standin" in path.name:
        return Path(ensure_standin(path))
    if not path.is_file():
        load_mano_file(path)  # raises MANOFileError: where to get the file and where to put it
    return path


FORMAT = 2  # bump when the generator's output changes for the same parameters (old sets are then remade)


def _marker(train: int, eval_: int, seed: int, model_path: Path, scene: SceneConfig) -> dict[str, Any]:
    """What identifies a set: its parameters, the model file's digest, the scene ranges and the format."""
    return {
        "train": train,
        "eval": eval_,
        "seed": seed,
        "size": scene.size,
        "scene": json.loads(json.dumps(asdict(scene))),  # tuples as lists, as read back from the file
        "model_sha1": _file_digest(model_path),
        "format": FORMAT,
    }


def _check_counts(train: int, eval: int) -> None:
    if not 0 <= train <= FREIHAND_TRAIN_UNIQUE:
        raise ValueError(
            f"train must be in [0, {FREIHAND_TRAIN_UNIQUE}] (image ids are idx + 32560 * version), got {train}"
        )
    if eval < 0:
        raise ValueError(f"eval must be >= 0, got {eval}")


def _check_replaceable(root: Path) -> None:
    """Refuse to replace a folder that is not a (finished) synthetic set: it may be real data."""
    if root.exists() and not (root / SYNTHETIC_MARKER).is_file() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(
            f"refusing to write a synthetic set to {root}: it exists and is not a synthetic set made by handmesh "
            f"(no {SYNTHETIC_MARKER}); delete it or choose another output folder"
        )


def generate(
    out: str | Path,
    train: int,
    eval: int,
    seed: int = 0,
    mano_path: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    scene: SceneConfig | None = None,
) -> Path:
    """Write the synthetic set to `out` and return `out`.

    The set is written to `<out>.partial` (marker file last) and then moved into place, so `out` is
    either the previous complete set or the new complete one, never half written. An existing `out`
    is replaced only if it is empty or a synthetic set (never real data).
    """
    _check_counts(train, eval)
    root = Path(out)
    _check_replaceable(root)
    scene = scene or SceneConfig()
    model_path = _resolve_model(mano_path)
    model_dict = load_mano_file(model_path, side="right")
    kind = "procedural STAND-IN hand model (not MANO)" if model_dict["is_standin"] else "MANO model"
    log.info("synthetic FreiHAND-format set from the %s %s -> %s", kind, model_path, root)
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # left by an interrupted run
    for folder in ("training/rgb", "training/mask", "evaluation/rgb"):
        (partial / folder).mkdir(parents=True, exist_ok=True)
    hand_model = HandModel(model_dict, dtype=torch.float64)
    pose_std = pose_prior_std(model_dict)
    tasks: list[tuple[str, int, np.ndarray, np.ndarray]] = []
    for split, count in (("training", train), ("evaluation", eval)):
        hands = sample_hands(hand_model, pose_std, split, count, seed, scene)
        _write_annotations(partial, split, hands)
        tasks += [(split, i, hands.verts[i], hands.K[i]) for i in range(count)]
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    total = train * len(FREIHAND_VERSIONS) + eval
    faces = hand_model.faces.cpu().numpy()
    start = time.perf_counter()
    with _progress(total, f"rendering {'stand-in ' if model_dict['is_standin'] else ''}hands", progress) as advance:
        for written in _run_tasks(tasks, faces, partial, seed, scene.size, workers):
            advance(written)
    elapsed = time.perf_counter() - start
    log.info(
        "wrote %d images in %.1f s (%.1f images/s, %d workers)", total, elapsed, total / max(elapsed, 1e-9), workers
    )
    marker = _marker(train, eval, seed, model_path, scene)
    marker["standin"] = bool(model_dict["is_standin"])
    (partial / SYNTHETIC_MARKER).write_text(json.dumps(marker, indent=1))
    _replace(root, partial)
    return root


def _replace(root: Path, new: Path) -> None:
    """Move the finished folder `new` to `root`, replacing an old set there."""
    _check_replaceable(root)  # again: something may have appeared there meanwhile
    old = root.with_name(root.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if root.exists():
        root.rename(old)
    new.rename(root)
    if old.exists():
        shutil.rmtree(old)


class _progress:
    """A rich progress bar (or nothing) as a context manager yielding an `advance(n)` function."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self.total, self.description, self.enabled = total, description, enabled

    def __enter__(self):  # noqa: ANN204
        if not self.enabled:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self._bar.__enter__()
        task = self._bar.add_task(self.description, total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)


def is_complete(root: str | Path, train: int, eval: int, seed: int = 0, mano_path: str | Path | None = None) -> bool:
    """True if `root` holds a finished synthetic set made with exactly these parameters."""
    marker = Path(root) / SYNTHETIC_MARKER
    if not marker.is_file():
        return False
    try:
        found = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return False
    expected = _marker(train, eval, seed, _resolve_model(mano_path), SceneConfig())
    return all(found.get(k) == v for k, v in expected.items())


def ensure_synthetic(
    root: str | Path, train: int, eval: int, seed: int = 0, mano_path: str | Path | None = None
) -> Path:
    """Generate the synthetic set into `root` unless a complete one with these parameters is there."""
    if not is_complete(root, train, eval, seed, mano_path):
        generate(root, train, eval, seed, mano_path)
    return Path(root)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="data/synthetic", help="output folder (a FreiHAND root)")
    parser.add_argument("--train", type=int, default=1000, help="unique training samples (4 images each)")
    parser.add_argument("--eval", type=int, default=100, help="evaluation samples")
    parser.add_argument("--mano", default=None, help="MANO pickle (default: the procedural stand-in)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: CPU count, max 4)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate(args.out, args.train, args.eval, args.seed, args.mano, args.workers)


if __name__ == "__main__":
    main()
