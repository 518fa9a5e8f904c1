"""Reading image files with clear errors (missing, empty, truncated or undecodable files)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from handmesh.data.errors import DataError

_JPEG_SOI, _JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
_JPEG_SUFFIXES = (".jpg", ".jpeg")


def read_image(path: str | Path, grayscale: bool = False) -> np.ndarray:
    """Decode an image file to uint8 BGR (H, W, 3), or (H, W) if `grayscale`; DataError if it is bad.

    The format is taken from the content, not the name (a PNG saved as `.jpg` is read). A JPEG without
    its end-of-image marker (a truncated download) is rejected: OpenCV would otherwise decode it
    silently with a grey bottom. A grayscale file is returned with 3 equal channels.
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
    head = bytes(data[:2])
    if head == _JPEG_SOI and bytes(data[-16:]).find(_JPEG_EOI) < 0:
        raise DataError(f"corrupt image file {path}: truncated JPEG (no end-of-image marker)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise DataError(f"corrupt image file {path}: OpenCV cannot decode it ({e.err})") from None
    if image is None:
        unlike = head != _JPEG_SOI and path.suffix.lower() in _JPEG_SUFFIXES
        hint = f" (not a JPEG: the file starts with {bytes(data[:8])!r})" if unlike else ""
        raise DataError(f"corrupt image file {path}: OpenCV cannot decode it{hint}")
    return image
