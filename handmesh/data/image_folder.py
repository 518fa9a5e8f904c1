"""A plain folder of hand-crop images (no annotations), for prediction."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from handmesh.data.augment import crop_matrix, normalize_image, transform_intrinsics, warp_image
from handmesh.data.errors import DataError
from handmesh.data.image_io import read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Default focal length for a 224-pixel FreiHAND-like crop when no K is given (FreiHAND's focal
# lengths are a few hundred pixels at 224; only the absolute depth of a prediction depends on it).
DEFAULT_FOCAL_224 = 500.0


def default_intrinsics(width: int, height: int) -> np.ndarray:
    """A FreiHAND-like K for an image of this size: focal 500 px per 224 px of the longer side, centred."""
    f = DEFAULT_FOCAL_224 * max(width, height) / 224.0
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _check_K(K: np.ndarray | list) -> np.ndarray:
    """K as a (3, 3) float64 intrinsics matrix; ValueError saying what is wrong otherwise."""
    try:
        array = np.asarray(K, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"K must be a 3x3 matrix of numbers, got {K!r}") from None
    if array.shape != (3, 3) or not np.isfinite(array).all() or array[0, 0] <= 0 or array[1, 1] <= 0:
        raise ValueError(f"K must be a finite 3x3 intrinsics matrix with fx, fy > 0, got {array.tolist()}")
    return array


class ImageFolderDataset(Dataset):
    """Images of a folder (sorted by name), each resized to the square network input.

    A non-square image is padded (centred) to a square before resizing. Samples hold `image`,
    `K` (of the network input), `index` (position in `files`), `image_id` (= index) and `has_gt` False.

    Args:
        folder: folder of .jpg/.jpeg/.png/.bmp/.webp images.
        input_size: side of the network input.
        K: (3, 3) intrinsics of the original images (one for all), or None for `default_intrinsics`.
    """

    def __init__(self, folder: str | Path, input_size: int = 224, K: np.ndarray | list | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(f"image folder not found: {self.folder}")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {self.folder}")
        self.input_size = int(input_size)
        self.K = None if K is None else _check_K(K)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        cv2.setNumThreads(1)
        image = read_image(self.files[index])
        h, w = image.shape[:2]
        M = crop_matrix((w, h), self.input_size)
        K = transform_intrinsics(self.K if self.K is not None else default_intrinsics(w, h), M, 0.0)
        return {
            "image": torch.from_numpy(normalize_image(warp_image(image, M, self.input_size))),
            "K": torch.from_numpy(K.astype(np.float32)),
            "index": torch.tensor(index, dtype=torch.int64),
            "image_id": torch.tensor(index, dtype=torch.int64),
            "has_gt": torch.tensor(False),
        }
