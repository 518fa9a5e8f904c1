"""The evaluator's inputs as float64 numpy arrays: numpy arrays, nested lists or torch tensors on any device.

The evaluation path (`python -m handmesh.evaluate`) never imports torch; a tensor is recognised by its methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayLike: TypeAlias = "np.ndarray | torch.Tensor"


def as_float64(x: ArrayLike) -> np.ndarray:
    """x as a C-contiguous float64 numpy array (a tensor is detached and copied to the CPU first)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu().double().numpy()
    return np.ascontiguousarray(x, dtype=np.float64)


def all_finite(x: np.ndarray) -> bool:
    """Whether x holds no NaN or inf; a finite sum settles it without a full boolean pass."""
    with np.errstate(over="ignore", invalid="ignore"):  # a sum of huge finite values may overflow: look closer
        return bool(np.isfinite(x.sum())) or bool(np.isfinite(x).all())
