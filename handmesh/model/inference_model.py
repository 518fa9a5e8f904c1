"""A `HandRegressor` prepared for inference: eval mode, reparameterised, optionally compiled and channels-last.

    net = prepare_for_inference(module.net, device="cuda", compile=True, mode="reduce-overhead")
    vertices = net(images, K).vertices

The training-time network is never modified: the reparameterised form is a copy (timm's structural
reparameterisation fuses FastViT's training branches into single convolutions; outputs agree with the
training form to float rounding). `torch.compile` goes through `CompiledCall`, so a model the compiler
cannot handle still runs, eagerly, with one warning.

CUDA graphs (`mode="reduce-overhead"`, or inductor's "max-autotune"): the outputs of one call live in
memory that the next call of the same shape overwrites. Copy (or move to the CPU) what you keep before
calling again; `predict_arrays` does this for every batch.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from handmesh.model.compile import CompiledCall
from handmesh.model.encoder import reparameterize as reparameterize_module
from handmesh.model.hand_regressor import Prediction


class InferenceModel(nn.Module):
    """`net(images, K) -> Prediction` for inference; build it with `prepare_for_inference`.

    Args:
        net: a `HandRegressor` (already reparameterised or not), in eval mode.
        channels_last: give the encoder channels-last images (its weights should be channels-last too).
        compile_kwargs: arguments of `torch.compile`; None runs eagerly.
    """

    def __init__(self, net: nn.Module, channels_last: bool = False, compile_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.net = net
        self.input_size = int(net.input_size)
        self.channels_last = channels_last
        self.compiled = CompiledCall(net, **compile_kwargs) if compile_kwargs is not None else None

    @property
    def hand_model(self) -> nn.Module:
        """The MANO layer (faces, model arrays)."""
        return self.net.hand_model

    @property
    def compile_error(self) -> str | None:
        """Why compiling failed (the model then runs eagerly), or None."""
        return None if self.compiled is None else self.compiled.error

    def train(self, mode: bool = True) -> InferenceModel:
        """Always eval: an inference model has no training mode (dropout and BatchNorm stay frozen)."""
        return super().train(False)

    def forward(self, images: Tensor, K: Tensor) -> Prediction:
        """images (B, 3, S, S) normalised; K (B, 3, 3) intrinsics of the input."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        run = self.net if self.compiled is None else self.compiled
        return run(images, K)


def prepare_for_inference(
    net: nn.Module,
    *,
    reparameterize: bool = True,
    compile: bool = False,
    mode: str | None = None,
    backend: str = "inductor",
    dynamic: bool | None = False,
    channels_last: bool = False,
    device: str | torch.device | None = None,
) -> InferenceModel:
    """An inference copy of a `HandRegressor` (the argument itself is left as it is).

    Args:
        net: the trained network (training form, as in checkpoints).
        reparameterize: fuse the encoder's training-time branches (timm `reparameterize_model`); without it
            the network is deep-copied unchanged.
        compile: `torch.compile` the copy (lazily, on the first call; eager with a warning if that fails).
        mode: `torch.compile` mode: None (default), "reduce-overhead" (CUDA graphs: best at batch 1 on a GPU),
            "max-autotune" (autotuned kernels plus CUDA graphs), "max-autotune-no-cudagraphs".
        backend: `torch.compile` backend ("inductor"; "aot_eager" traces without generating code).
        dynamic: `torch.compile`'s dynamic-shape switch (False: one specialised graph per batch size).
        channels_last: encoder weights and input images in channels-last memory format.
        device: move the copy there (default: where `net` is).
    """
    model = reparameterize_module(net) if reparameterize else copy.deepcopy(net)
    model = model.eval()
    if device is not None:
        model = model.to(device)
    if channels_last:
        model.encoder = model.encoder.to(memory_format=torch.channels_last)
    kwargs: dict[str, Any] | None = None
    if compile:
        kwargs = {"backend": backend, "dynamic": dynamic}
        if mode is not None and backend == "inductor":  # modes are inductor's
            kwargs["mode"] = mode
    for p in model.parameters():
        p.requires_grad_(False)
    return InferenceModel(model, channels_last=channels_last, compile_kwargs=kwargs).eval()
