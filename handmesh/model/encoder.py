"""Image encoder: any timm backbone by name (default FastViT-MA36), pooled to a feature vector."""

from __future__ import annotations

from pathlib import Path

import timm
from timm.utils.model import reparameterize_model
from torch import nn

DEFAULT_ENCODER = "fastvit_ma36"
DEFAULT_PRETRAINED_TAG = "fastvit_ma36.apple_in1k"


class PretrainedWeightsError(RuntimeError):
    """ImageNet weights could not be fetched or read; the message says how to proceed."""


def _offline_message(name: str, exc: BaseException) -> str:
    return (
        f"could not load pretrained weights for encoder '{name}' ({type(exc).__name__}: {exc}).\n"
        "No network? Either download the weights on a machine with network "
        f"(timm model '{name}', Hugging Face repo 'timm/{name.split('.')[0]}.<tag>') and pass the local "
        "file with `--model.encoder_checkpoint PATH` (.safetensors/.pth/.bin), or train from scratch with "
        "`--model.pretrained false`."
    )


def create_encoder(
    name: str = DEFAULT_ENCODER, pretrained: bool = True, checkpoint: str | Path | None = None
) -> nn.Module:
    """A timm backbone without classifier, returning pooled features (B, C).

    Args:
        name: timm model name, optionally with a pretrained tag (e.g. "fastvit_ma36.apple_in1k").
        pretrained: load ImageNet weights (from the Hugging Face hub, or from `checkpoint`).
        checkpoint: a local weights file to use instead of downloading.

    Raises:
        PretrainedWeightsError: the weights cannot be downloaded or read.
    """
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise PretrainedWeightsError(f"encoder checkpoint not found: {path}")
        try:
            return timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)})
        except (RuntimeError, ValueError, OSError) as exc:
            raise PretrainedWeightsError(f"could not read encoder checkpoint {path}: {exc}") from exc
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=0)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise
        raise PretrainedWeightsError(_offline_message(name, exc)) from exc
    except (OSError, ValueError) as exc:  # hub errors: offline, connection, missing file
        raise PretrainedWeightsError(_offline_message(name, exc)) from exc


def reparameterize(module: nn.Module) -> nn.Module:
    """Inference form (timm's structural reparameterisation: branches fused into single convs).

    Returns a copy; the training-time module is untouched.
    """
    return reparameterize_model(module, inplace=False)
