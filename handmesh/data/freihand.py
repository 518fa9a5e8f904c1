"""FreiHAND (or a synthetic set in its layout) as a torch Dataset of network-ready samples.

Each sample is a dict of tensors (S = input_size):
  image (3, S, S) float32, RGB normalised with ImageNet mean/std;
  K (3, 3) intrinsics of the network input (after crop/resize/augmentation);
  keypoints3d (21, 3), vertices (778, 3): camera frame, metres (augmented);
  keypoints3d_rel, vertices_rel: the same minus keypoint 9 (ROOT_KEYPOINT);
  keypoints2d (21, 2): projection in normalised input coordinates ([-1, 1]);
  global_orient (3,) axis-angle (augmented), hand_pose (45,) relative to hands_mean, betas (10,);
  mask (S, S) float32 (only with return_mask); index (position in the split), image_id (file id),
  has_gt (bool; False for an evaluation split without ground truth, whose GT fields are zeros).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from handmesh.data.augment import (
    AugmentConfig,
    AugmentParams,
    crop_matrix,
    normalize_image,
    rotate_global_orient,
    rotate_points,
    sample_augment,
    transform_intrinsics,
    transform_points2d,
    warp_image,
)
from handmesh.data.errors import DataError
from handmesh.data.image_io import read_image
from handmesh.data.json_cache import load_json_array
from handmesh.data.layout import (
    GROUND_TRUTH_JSON,
    LAYOUT_HELP,
    REQUIRED_JSON,
    check_split,
    image_id,
    image_size,
    json_path,
    mask_path,
    rgb_path,
    version_number,
)
from handmesh.geometry.camera import pixels_to_normalized
from handmesh.mano.constants import FREIHAND_VERSIONS, NUM_KEYPOINTS, NUM_VERTICES, ROOT_KEYPOINT

# name -> (dtype, shape of one entry as stored in the JSON)
_ANNOTATIONS: dict[str, tuple[type, tuple[int, ...]]] = {
    "K": (np.float64, (3, 3)),
    "mano": (np.float64, (1, 61)),
    "xyz": (np.float32, (NUM_KEYPOINTS, 3)),
    "verts": (np.float32, (NUM_VERTICES, 3)),
}
_MAX_SKIPS_IN_A_ROW = 100


def _load_annotations(root: Path, split: str, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Load and validate the annotation arrays: not empty, same length, all finite, K an intrinsics matrix."""
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        dtype, tail = _ANNOTATIONS[name]
        arrays[name] = load_json_array(json_path(root, split, name), dtype, expected_shape_tail=tail)
    first = names[0]
    if len(arrays[first]) == 0:
        raise DataError(f"{json_path(root, split, first)}: no samples (an empty list)")
    for name in names[1:]:
        if len(arrays[name]) != len(arrays[first]):
            raise DataError(
                f"annotation files of different lengths: {json_path(root, split, first)} has "
                f"{len(arrays[first])} entries but {json_path(root, split, name)} has {len(arrays[name])}"
            )
    for name, array in arrays.items():
        bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
        if bad.any():
            idx = np.flatnonzero(bad)
            raise DataError(
                f"non-finite value (NaN/inf) in {json_path(root, split, name)} at index {int(idx[0])}"
                + (f" (and {len(idx) - 1} more)" if len(idx) > 1 else "")
            )
    _check_intrinsics(arrays["K"], json_path(root, split, "K"))
    if "mano" in arrays:
        arrays["mano"] = arrays["mano"].reshape(-1, 61)
    return arrays


def _check_intrinsics(K: np.ndarray, path: Path) -> None:
    """Every K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0 (else projection divides by 0)."""
    last_row_ok = (np.abs(K[:, 2] - (0.0, 0.0, 1.0)) < 1e-6).all(axis=1)
    bad = ~(last_row_ok & (K[:, 0, 0] > 0) & (K[:, 1, 1] > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: entry {i} is not camera intrinsics [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0: "
            f"{K[i].tolist()}" + (f" (and {int(bad.sum()) - 1} more)" if bad.sum() > 1 else "")
        )


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:  # lazily: a FreiHAND folder holds 130,240 files
        return next(entries, None) is None


class FreiHANDDataset(Dataset):
    """FreiHAND-layout dataset (real or synthetic).

    Args:
        root: the FreiHAND root (holding training/, evaluation/ and the *.json files).
        split: "training" or "evaluation".
        versions: training versions to use (any of "gs", "hom", "sample", "auto"); ignored for evaluation.
        input_size: side S of the square network input.
        augment: augmentation config, or None for a plain resize (evaluation).
        return_mask: also return the hand mask (training; needs <split>/mask).
        skip_bad: replace a sample whose image or mask is missing, corrupt or of the wrong size by the next
            one, with a warning, instead of raising DataError; the count is `skipped` (shared with worker
            processes). Bad annotation files always raise DataError when the dataset is built.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "training",
        versions: Sequence[str] = FREIHAND_VERSIONS,
        input_size: int = 224,
        augment: AugmentConfig | None = None,
        return_mask: bool = False,
        skip_bad: bool = False,
    ) -> None:
        self.root = Path(root)
        self.split = check_split(split)
        self.input_size = int(input_size)
        self.augment = augment
        self.return_mask = return_mask
        self.skip_bad = skip_bad
        if not self.root.is_dir():
            raise DataError(f"FreiHAND root folder not found: {self.root}. {LAYOUT_HELP}")
        self._check_folder(self.root / split / "rgb", images=True)
        if return_mask:
            self._check_folder(self.root / split / "mask", images=True)
        self._check_json(REQUIRED_JSON[split])
        names = list(REQUIRED_JSON[split])
        if split == "evaluation":
            present = [n for n in GROUND_TRUTH_JSON if json_path(self.root, split, n).is_file()]
            if present and len(present) != len(GROUND_TRUTH_JSON):
                self._check_json(GROUND_TRUTH_JSON)  # raises, naming what is missing
            names += present
        self.annotations = _load_annotations(self.root, split, names)
        self.has_gt = "xyz" in self.annotations
        self.image_size = image_size(self.root)  # every image (and mask) must be this size: K is in its pixels
        self.num_unique = len(self.annotations["K"])
        self.versions = tuple(versions) if split == "training" else ("gs",)
        self._version_ids = [version_number(v) for v in self.versions]
        if not self._version_ids:
            raise ValueError("versions must name at least one of " + ", ".join(FREIHAND_VERSIONS))
        self._skips = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._rng: np.random.Generator | None = None
        self._rng_pid = -1

    def _check_folder(self, folder: Path, images: bool = False) -> None:
        if not folder.is_dir():
            raise DataError(f"missing folder {folder} in FreiHAND root {self.root}. {LAYOUT_HELP}")
        if images and _is_empty(folder):
            raise DataError(f"empty folder {folder} in FreiHAND root {self.root} (no images). {LAYOUT_HELP}")

    def _check_json(self, names: Sequence[str]) -> None:
        missing = [json_path(self.root, self.split, n) for n in names]
        missing = [p for p in missing if not p.is_file()]
        if missing:
            raise DataError(
                f"missing annotation file(s) {', '.join(str(p) for p in missing)} in FreiHAND root {self.root}. "
                + LAYOUT_HELP
            )

    def __len__(self) -> int:
        return self.num_unique * len(self._version_ids)

    @property
    def skipped(self) -> int:
        """How many bad samples were replaced so far (all worker processes together)."""
        return int(self._skips.item())

    def locate(self, index: int) -> tuple[int, int]:
        """Position in the split -> (annotation index, image id)."""
        version = self._version_ids[index // self.num_unique]
        idx = index % self.num_unique
        return idx, (image_id(idx, version) if self.split == "training" else idx)

    def _generator(self) -> np.random.Generator:
        # One generator per process, seeded from torch's seed (distinct per DataLoader worker and
        # reproducible under seed_everything): numpy's global RNG is duplicated across forked workers.
        if self._rng is None or self._rng_pid != os.getpid():
            self._rng = np.random.default_rng(torch.initial_seed())
            self._rng_pid = os.getpid()
        return self._rng

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        current = index
        for _ in range(_MAX_SKIPS_IN_A_ROW):
            try:
                return self._load(current)
            except DataError as e:
                if not self.skip_bad:
                    raise
                self._skips += 1
                replacement = (current + 1) % len(self)
                warnings.warn(
                    f"skipping bad sample {current}: {e}; using sample {replacement} instead "
                    f"({self.skipped} skipped so far)",
                    stacklevel=2,
                )
                current = replacement
        raise DataError(f"{_MAX_SKIPS_IN_A_ROW} bad samples in a row from index {index} in {self.root}")

    def _load(self, index: int) -> dict[str, Tensor]:
        cv2.setNumThreads(1)  # DataLoader workers are the parallelism; OpenCV threads only compete
        idx, img_id = self.locate(index)
        image = self._read(rgb_path(self.root, self.split, img_id), grayscale=False)
        params = sample_augment(self.augment, self._generator()) if self.augment is not None else AugmentParams()
        S = self.input_size
        M = crop_matrix((image.shape[1], image.shape[0]), S, params)
        theta = params.rotation
        K = transform_intrinsics(self.annotations["K"][idx], M, theta)
        sample: dict[str, Tensor] = {
            "image": torch.from_numpy(normalize_image(warp_image(image, M, S), params.color)),
            "K": torch.from_numpy(K.astype(np.float32)),
            "index": torch.tensor(index, dtype=torch.int64),
            "image_id": torch.tensor(img_id, dtype=torch.int64),
            "has_gt": torch.tensor(self.has_gt),
        }
        if self.return_mask:
            mask = self._read(mask_path(self.root, self.split, idx), grayscale=True)
            sample["mask"] = torch.from_numpy((warp_image(mask, M, S) > 127).astype(np.float32))
        sample.update(self._ground_truth(idx, M, theta))
        return sample

    def _read(self, path: Path, grayscale: bool) -> np.ndarray:
        """An image or mask of the split; DataError if it is bad or not `image_size` square."""
        image = read_image(path, grayscale=grayscale)
        S = self.image_size
        if image.shape[:2] != (S, S):
            raise DataError(
                f"image file {path} is {image.shape[1]}x{image.shape[0]} pixels, expected {S}x{S} "
                f"(the size the intrinsics in {json_path(self.root, self.split, 'K').name} are for)"
            )
        return image

    def _ground_truth(self, idx: int, M: np.ndarray, theta: float) -> dict[str, Tensor]:
        if not self.has_gt:
            zeros = {
                "keypoints3d": (NUM_KEYPOINTS, 3), "vertices": (NUM_VERTICES, 3),
                "keypoints3d_rel": (NUM_KEYPOINTS, 3), "vertices_rel": (NUM_VERTICES, 3),
                "keypoints2d": (NUM_KEYPOINTS, 2), "global_orient": (3,), "hand_pose": (45,), "betas": (10,),
            }  # fmt: skip
            return {k: torch.zeros(shape, dtype=torch.float32) for k, shape in zeros.items()}
        xyz = self.annotations["xyz"][idx].astype(np.float64)
        verts = self.annotations["verts"][idx].astype(np.float64)
        K = self.annotations["K"][idx]
        uvw = xyz @ K.T
        uv = transform_points2d(uvw[:, :2] / uvw[:, 2:], M)
        xyz, verts = rotate_points(xyz, theta), rotate_points(verts, theta)
        mano = self.annotations.get("mano")
        pose = mano[idx] if mano is not None else np.zeros(61)
        root = xyz[ROOT_KEYPOINT]
        out = {
            "keypoints3d": xyz,
            "vertices": verts,
            "keypoints3d_rel": xyz - root,
            "vertices_rel": verts - root,
            "keypoints2d": pixels_to_normalized(uv, self.input_size),
            "global_orient": rotate_global_orient(pose[:3], theta),
            "hand_pose": pose[3:48],
            "betas": pose[48:58],
        }
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in out.items()}
