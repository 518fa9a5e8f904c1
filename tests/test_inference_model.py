"""Inference form of the network: reparameterised, compiled and channels-last copies agree with the training form."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.export import example_inputs
from handmesh.inference import predict_arrays
from handmesh.model.inference_model import InferenceModel, prepare_for_inference

SIZE = 64


@pytest.fixture(scope="module")
def net(standin_path: Path) -> torch.nn.Module:
    """A tiny random HandRegressor (fastvit_t8, 64 px) whose outputs depend on the image and whose
    BatchNorm statistics are not the identity (so fusing them is exercised)."""
    from handmesh.lightning_module import HandMeshModule

    torch.manual_seed(0)
    module = HandMeshModule(encoder="fastvit_t8", pretrained=False, mano_path=str(standin_path), input_size=SIZE,
                            head_hidden=32, head_iterations=2)  # fmt: skip
    with torch.no_grad():
        torch.nn.init.normal_(module.net.head.delta.weight, std=0.05)
        for bn in (m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
    return module.net.eval()


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return example_inputs(3, SIZE, seed=2)


@pytest.fixture(scope="module")
def eager_vertices(net: torch.nn.Module, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        vertices = net(*inputs).vertices
    assert (vertices[0] - vertices[1]).abs().max() > 1e-3  # the check below would be vacuous otherwise
    return vertices


def _n_reparam_blocks(module: torch.nn.Module) -> int:
    """timm's MobileOne/RepMixer blocks still in their training form (they have a `reparameterize` method and
    training-time branches)."""
    return sum(1 for m in module.modules() if hasattr(m, "reparameterize") and getattr(m, "reparam_conv", 1) is None)


def test_reparameterised_copy_matches_and_leaves_the_network_alone(net, inputs, eager_vertices) -> None:
    before = {k: v.clone() for k, v in net.state_dict().items()}
    n_before = _n_reparam_blocks(net)
    model = prepare_for_inference(net)
    assert isinstance(model, InferenceModel) and not model.training
    assert n_before > 0 and _n_reparam_blocks(model) == 0  # every block fused in the copy ...
    assert _n_reparam_blocks(net) == n_before  # ... none in the original
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        out = model(*inputs)
    torch.testing.assert_close(out.vertices, eager_vertices, atol=1e-4, rtol=0)
    assert not any(p.requires_grad for p in model.parameters())
    model.train()  # an inference model stays in eval mode (dropout off, BatchNorm frozen)
    assert not model.training and not model.net.head.mlp[2].training


def test_compiled_aot_eager_and_channels_last_match(net, inputs, eager_vertices) -> None:
    model = prepare_for_inference(net, compile=True, backend="aot_eager", channels_last=True)
    assert model.net.encoder.stem[0].reparam_conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = model(*inputs)
    assert model.compile_error is None and model.compiled.compiled is not None  # really compiled, no fallback
    torch.testing.assert_close(out.vertices, eager_vertices, atol=1e-4, rtol=0)


def test_compiled_inductor_matches(net, inputs, eager_vertices) -> None:
    model = prepare_for_inference(net, compile=True)
    with torch.no_grad():
        out = model(*inputs)
    assert model.compile_error is None
    torch.testing.assert_close(out.vertices, eager_vertices, atol=1e-4, rtol=0)


def test_failed_compile_falls_back_to_the_reparameterised_model(net, inputs, eager_vertices) -> None:
    model = prepare_for_inference(net, compile=True, backend="no_such_backend")
    with pytest.warns(UserWarning, match="torch.compile failed"), torch.no_grad():
        out = model(*inputs)
    assert model.compile_error is not None
    torch.testing.assert_close(out.vertices, eager_vertices, atol=1e-4, rtol=0)


def test_batched_prediction_with_the_inference_model(net) -> None:
    images, K = example_inputs(5, SIZE, seed=3)
    # out of order: the outputs come back sorted by index
    batches = [
        {"image": images[i : i + 2], "K": K[i : i + 2], "index": torch.arange(i, min(i + 2, 5))} for i in (4, 2, 0)
    ]
    ref = predict_arrays(net, batches)
    fast = predict_arrays(prepare_for_inference(net), batches)
    assert list(fast["index"]) == [0, 1, 2, 3, 4]
    assert abs(fast["vertices"] - ref["vertices"]).max() < 1e-4
    assert abs(fast["keypoints"] - ref["keypoints"]).max() < 1e-4
