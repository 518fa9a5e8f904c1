"""FreiHAND's folder layout and image ids (DESIGN.md §2), shared by the reader and the generator."""

from __future__ import annotations

import json
from pathlib import Path

from handmesh.mano.constants import FREIHAND_TRAIN_UNIQUE, FREIHAND_VERSIONS

SPLITS = ("training", "evaluation")
# Annotation files per split: the ones a split needs, and the optional ground truth of evaluation.
REQUIRED_JSON = {"training": ("K", "mano", "xyz", "verts"), "evaluation": ("K",)}
GROUND_TRUTH_JSON = ("mano", "xyz", "verts")
IMAGE_SIZE = 224  # side of every FreiHAND image (training_K.json is in these pixels)
SYNTHETIC_MARKER = "handmesh_synthetic.json"  # a finished synthetic set's parameters (its image size among them)

LAYOUT_HELP = (
    "A FreiHAND root (FreiHAND_pub_v2, with FreiHAND_pub_v2_eval.zip unpacked into it) holds "
    "training/rgb/%08d.jpg (4 versions x 32560), training/mask/%08d.jpg, evaluation/rgb/%08d.jpg, "
    "training_{K,mano,xyz,verts,scale}.json, evaluation_{K,scale}.json and, for evaluation ground truth, "
    "evaluation_{xyz,verts,mano}.json. Download it from "
    "https://lmb.informatik.uni-freiburg.de/resources/datasets/FreihandDataset.en.html or write a synthetic "
    "one with `python -m handmesh.data.synthetic --out data/synthetic`."
)


def check_split(split: str) -> str:
    """Validate a split name."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def image_size(root: str | Path) -> int:
    """Side of the square images of a FreiHAND root: 224, or what a synthetic set's marker file records."""
    try:
        size = json.loads((Path(root) / SYNTHETIC_MARKER).read_text()).get("size", IMAGE_SIZE)
    except (OSError, ValueError, AttributeError):  # no marker (real FreiHAND) or an unreadable one
        return IMAGE_SIZE
    return int(size) if isinstance(size, int) and size > 0 else IMAGE_SIZE


def version_number(version: str) -> int:
    """'gs' -> 0, 'hom' -> 1, 'sample' -> 2, 'auto' -> 3."""
    if version not in FREIHAND_VERSIONS:
        raise ValueError(f"unknown FreiHAND version {version!r}; expected some of {FREIHAND_VERSIONS}")
    return FREIHAND_VERSIONS.index(version)


def image_id(index: int, version: int) -> int:
    """FreiHAND's training image id of unique sample `index` in version `version` (0..3).

    Always `index + 32560 * version`, also for smaller (synthetic) sets, so that FreiHAND's own rule
    `annotation index = image id % 32560` holds.
    """
    return index + FREIHAND_TRAIN_UNIQUE * version


def json_path(root: str | Path, split: str, name: str) -> Path:
    """`<root>/<split>_<name>.json`, e.g. training_K.json."""
    return Path(root) / f"{split}_{name}.json"


def rgb_path(root: str | Path, split: str, image_id: int) -> Path:
    """`<root>/<split>/rgb/%08d.jpg`."""
    return Path(root) / split / "rgb" / f"{image_id:08d}.jpg"


def mask_path(root: str | Path, split: str, index: int) -> Path:
    """`<root>/<split>/mask/%08d.jpg` (one mask per unique sample)."""
    return Path(root) / split / "mask" / f"{index:08d}.jpg"
