"""Reading image files with clear errors (missing, empty, truncated or undecodable files)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from handmesh.data.errors import DataError

_JPEG_SUFFIXES = (".jpg", ".jpeg")


def read_image(path: str | Path, grayscale: bool = False) -> np.ndarray:
    """Decode an image file to uint8 BGR (H, W, 3), or (H, W) if `grayscale`; DataError if it is bad.

    A JPEG without its end-of-image marker (a truncated download) is rejected too: OpenCV would
    otherwise decode it silently with a grey bottom.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"missing image file: {path}") from None
    except OSError as e:
        raise DataError(f"cannot read image file {path}: {e}") from None
    if data.size == 0:
        raise DataError(f"empty image file: {path}")
    if path.suffix.lower() in _JPEG_SUFFIXES and bytes(data[-16:]).find(b"\xff\xd9") < 0:
        raise DataError(f"corrupt image file {path}: truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"corrupt image file {path}: OpenCV cannot decode it")
    return image
