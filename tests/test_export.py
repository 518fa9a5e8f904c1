"""ONNX export of a checkpoint: reparameterised graph, dynamic batch, ONNX Runtime == PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.export import (
    OUTPUT_NAMES,
    ExportError,
    compare_with_torch,
    example_inputs,
    export_onnx,
    load_regressor,
    main,
    onnx_session,
)
from handmesh.model.encoder import reparameterize

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def module(standin_path: Path):
    """A tiny random HandMeshModule (fastvit_t8, 64 px input) on the stand-in."""
    from handmesh.lightning_module import HandMeshModule

    torch.manual_seed(0)
    m = HandMeshModule(encoder="fastvit_t8", pretrained=False, mano_path=str(standin_path), input_size=64,
                       head_hidden=32, head_iterations=2)  # fmt: skip
    with torch.no_grad():  # make the outputs depend clearly on the image
        torch.nn.init.normal_(m.net.head.delta.weight, std=0.05)
        for bn in (x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)):  # non-trivial fused BN stats
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
    return m.eval()


@pytest.fixture(scope="module")
def ckpt(module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Lightning-format checkpoint written without a Trainer."""
    import pytorch_lightning as pl

    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": pl.__version__, "epoch": 0, "global_step": 0}, path)  # fmt: skip
    return path


def test_load_regressor_restores_the_weights(module, ckpt: Path) -> None:
    net = load_regressor(ckpt)
    images, K = example_inputs(2, 64)
    with torch.no_grad():
        a, b = net(images, K), module.net(images, K)
    torch.testing.assert_close(a.vertices, b.vertices)
    assert not net.training


def test_cli_round_trip(ckpt: Path, module, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "model.onnx"
    diffs = main(["--ckpt", str(ckpt), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "max abs diff" in printed and "STAND-IN" in printed
    assert set(diffs) == set(OUTPUT_NAMES) and max(diffs.values()) < 1e-4
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    assert [i.name for i in model.graph.input] == ["image", "K"]
    # Reparameterised: FastViT's training-time branches are fused, so the graph has fewer convolutions.
    eager_path = export_onnx(module.net, tmp_path / "eager.onnx", reparameterized=False)
    convs = [sum(n.op_type == "Conv" for n in onnx.load(str(p)).graph.node) for p in (out, eager_path)]
    assert convs[0] < convs[1]
    # Any batch size; outputs agree with the eager PyTorch model too.
    for batch in (1, 5):
        images, K = example_inputs(batch, 64, seed=batch)
        got = dict(zip(OUTPUT_NAMES, onnx_session(out).run(None, {"image": images.numpy(), "K": K.numpy()}),
                       strict=True))  # fmt: skip
        with torch.no_grad():
            ref = module.net(images, K)
        assert got["vertices"].shape == (batch, 778, 3) and got["rotmats"].shape == (batch, 16, 3, 3)
        np.testing.assert_allclose(got["vertices"], ref.vertices.numpy(), atol=1e-4)
        np.testing.assert_allclose(got["cam"], ref.cam.numpy(), atol=1e-4)
        np.testing.assert_allclose(got["keypoints"], ref.keypoints.numpy(), atol=1e-4)


def test_compare_detects_a_different_model(module, tmp_path: Path) -> None:
    path = export_onnx(module.net, tmp_path / "m.onnx")
    assert max(compare_with_torch(path, reparameterize(module.net)).values()) < 1e-4
    other = reparameterize(module.net)
    with torch.no_grad():
        other.head.delta.bias.add_(0.1)
    assert max(compare_with_torch(path, other).values()) > 1e-3


def test_errors_name_the_file(tmp_path: Path, module) -> None:
    with pytest.raises(ExportError, match="not found.*nope.ckpt"):
        load_regressor(tmp_path / "nope.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ExportError, match="bad.ckpt"):
        load_regressor(bad)
    with pytest.raises(ExportError, match=r"\.onnx"):
        export_onnx(module.net, tmp_path / "model.pt")
