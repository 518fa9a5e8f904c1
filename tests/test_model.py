"""The network: encoder forms, shapes end to end, offline weights error, overfitting."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from handmesh.losses import LossWeights, hand_losses, target_rotmats
from handmesh.mano.constants import NUM_BETAS, NUM_JOINTS
from handmesh.mano.hand_model import HandModel
from handmesh.model.encoder import PretrainedWeightsError, create_encoder, reparameterize
from handmesh.model.hand_regressor import HandRegressor
from handmesh.model.head import MANOHead

SIZE = 64


def _network(standin_path: Path) -> HandRegressor:
    torch.manual_seed(0)
    hand = HandModel(standin_path)
    enc = create_encoder("fastvit_t8", pretrained=False)
    head = MANOHead(enc.num_features, hand.hands_mean, hidden=128)
    return HandRegressor(enc, head, hand, SIZE)


def _K(batch: int) -> torch.Tensor:
    K = torch.tensor([[150.0, 0, 32], [0, 150.0, 32], [0, 0, 1]])
    return K.expand(batch, 3, 3).clone()


def test_shapes_through_the_whole_model(standin_path: Path) -> None:
    net = _network(standin_path).eval()
    pred = net(torch.randn(2, 3, SIZE, SIZE), _K(2))
    assert pred.vertices.shape == (2, 778, 3) and pred.keypoints.shape == (2, 21, 3)
    assert pred.keypoints2d.shape == (2, 21, 2) and pred.rotmats.shape == (2, 16, 3, 3)
    assert pred.betas.shape == (2, 10) and pred.cam.shape == (2, 3) and pred.transl.shape == (2, 3)
    # Root-relative outputs are relative to keypoint 9; camera-frame ones add the translation.
    assert torch.allclose(pred.keypoints_rel[:, 9], torch.zeros(2, 3), atol=1e-7)
    assert torch.allclose(pred.vertices, pred.vertices_rel + pred.transl[:, None])
    # At initialisation the finger rotations are MANO's mean pose: rotations are proper.
    assert torch.allclose(torch.linalg.det(pred.rotmats), torch.ones(2, 16), atol=1e-5)


def test_reparameterised_encoder_gives_the_same_features() -> None:
    torch.manual_seed(0)
    enc = create_encoder("fastvit_t8", pretrained=False)
    # Non-trivial batch-norm statistics so that fusing them is actually exercised.
    enc.train()
    with torch.no_grad():
        for _ in range(3):
            enc(torch.randn(4, 3, SIZE, SIZE))
    enc.eval()
    fused = reparameterize(enc)
    n_before = sum(p.numel() for p in enc.parameters())
    assert sum(p.numel() for p in fused.parameters()) < n_before
    x = torch.randn(3, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.allclose(enc(x), fused(x), atol=1e-4, rtol=1e-4)


def test_offline_pretrained_weights_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to fall back to
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    with pytest.raises(PretrainedWeightsError) as err:
        create_encoder("fastvit_t8.apple_in1k", pretrained=True)
    msg = str(err.value)
    assert "--model.pretrained false" in msg and "--model.encoder_checkpoint" in msg
    with pytest.raises(PretrainedWeightsError, match="not found"):
        create_encoder("fastvit_t8", checkpoint=tmp_path / "missing.safetensors")


def test_local_encoder_checkpoint_is_loaded(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = timm.create_model("fastvit_t8", num_classes=1000)
    path = tmp_path / "fastvit_t8.pth"
    torch.save(source.state_dict(), path)
    enc = create_encoder("fastvit_t8", checkpoint=path)
    for name, value in enc.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name


def test_tiny_model_overfits_a_handful_of_samples(standin_path: Path) -> None:
    net = _network(standin_path)
    hand = net.hand_model
    g = torch.Generator().manual_seed(0)
    n = 4
    go = torch.randn(n, 3, generator=g) * 0.5
    hp = torch.randn(n, 45, generator=g) * 0.3
    betas = torch.randn(n, 10, generator=g) * 0.5
    out = hand(go, hp, betas)
    root = out.keypoints[:, 9:10]
    gt = dict(
        vertices_rel=out.vertices - root,
        keypoints_rel=out.keypoints - root,
        keypoints2d=7.0 * (out.keypoints - root)[..., :2],
        rotmats=target_rotmats(go, hp, hand.hands_mean),
        betas=betas,
        cam=torch.tensor([[7.0, 0.01, -0.02]]).repeat(n, 1) * torch.linspace(0.8, 1.2, n)[:, None],
    )
    images = torch.randn(n, 3, SIZE, SIZE, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    weights = LossWeights()
    net.train()
    losses = []
    for _ in range(60):
        pred = net(images, _K(n))
        loss = hand_losses(
            pred.vertices_rel, pred.keypoints_rel, pred.keypoints2d, pred.rotmats, pred.betas, pred.cam,
            gt["vertices_rel"], gt["keypoints_rel"], gt["keypoints2d"], gt["rotmats"], gt["betas"], gt["cam"], weights,
        )["total"]  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 5, (losses[0], losses[-1])


def test_camera_scale_is_positive_and_camera_loss_is_zero_at_the_truth(standin_path: Path) -> None:
    from handmesh.geometry.camera import translation_to_weak_perspective
    from handmesh.losses import camera_features

    net = _network(standin_path).eval()
    with torch.no_grad():
        net.head.delta.bias[NUM_JOINTS * 6 + NUM_BETAS] = -5.0  # 3 iterations: s = 7 e^-15, not 7 - 15
        pred = net(torch.randn(2, 3, SIZE, SIZE), _K(2))
    assert (pred.cam[:, 0] > 0).all() and torch.isfinite(pred.transl).all()
    transl = torch.tensor([[0.02, -0.01, 0.6], [-0.03, 0.05, 0.9]])
    cam = translation_to_weak_perspective(transl, _K(2), SIZE)
    # (log s, s tx, s ty): s t is where the root lands in normalised image coordinates.
    feats = camera_features(cam)
    assert torch.allclose(feats[:, 0], torch.log(2 * 150.0 / (SIZE * transl[:, 2])))
    uv = 150.0 * transl[:, :2] / transl[:, 2:] + 32.0  # pixel of the root
    assert torch.allclose(feats[:, 1:], 2 * uv / SIZE - 1, atol=1e-6)


def test_aligned_keypoints_loss_ignores_similarity_transforms_only() -> None:
    from handmesh.geometry.rotation import axis_angle_to_matrix
    from handmesh.losses import aligned_keypoints_loss

    g = torch.Generator().manual_seed(3)
    gt = torch.randn(4, 21, 3, generator=g) * 0.03
    rot = axis_angle_to_matrix(torch.randn(4, 3, generator=g))  # (4, 3, 3)
    moved = (1.3 * gt @ rot.transpose(1, 2) + 0.1).requires_grad_()  # same hand, rotated, scaled, shifted
    assert aligned_keypoints_loss(moved, gt) < 1e-12 < torch.nn.functional.mse_loss(moved, gt)
    bent = moved.detach().clone()
    bent[:, 17:] += 0.01  # a finger moved: articulation changed
    bent.requires_grad_()
    loss = aligned_keypoints_loss(bent, gt)
    loss.backward()
    assert loss > 1e-6 and bent.grad is not None and torch.isfinite(bent.grad).all() and bent.grad.abs().sum() > 0
