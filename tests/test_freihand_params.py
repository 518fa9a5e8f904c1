"""FreiHAND's 61 numbers <-> camera-frame hands."""

from __future__ import annotations

import pytest
import torch

from handmesh.geometry.camera import project
from handmesh.mano.freihand_params import from_freihand, root_position, to_freihand
from handmesh.mano.hand_model import HandModel


def _batch(n: int = 6):
    g = torch.Generator().manual_seed(3)
    go = torch.randn(n, 3, generator=g, dtype=torch.float64)
    hp = 0.3 * torch.randn(n, 45, generator=g, dtype=torch.float64)
    betas = torch.randn(n, 10, generator=g, dtype=torch.float64)
    transl = torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.05 + torch.tensor([0, 0, 0.6])
    f = 400 + 200 * torch.rand(n, generator=g, dtype=torch.float64)
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 0] = K[:, 1, 1] = f
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = 112 + torch.randn(n, generator=g), 112, 1
    return go, hp, betas, transl, K


def test_round_trip(hand_model: HandModel) -> None:
    go, hp, betas, transl, K = _batch()
    mano61 = to_freihand(go, hp, betas, transl, K, hand_model)
    assert mano61.shape == (6, 61)
    decoded = from_freihand(mano61[:, None], K, hand_model)  # FreiHAND stores [N][1][61]
    direct = hand_model(go, hp, betas, transl)
    assert torch.allclose(decoded.vertices, direct.vertices, atol=1e-12)
    assert torch.allclose(decoded.keypoints, direct.keypoints, atol=1e-12)
    assert torch.allclose(decoded.transl, transl, atol=1e-12)
    again = to_freihand(decoded.global_orient, decoded.hand_pose, decoded.betas, decoded.transl, K, hand_model)
    assert torch.allclose(again, mano61, atol=1e-10)


def test_uv_root_is_the_projection_of_keypoint_9(hand_model: HandModel) -> None:
    go, hp, betas, transl, K = _batch()
    mano61 = to_freihand(go, hp, betas, transl, K, hand_model)
    decoded = from_freihand(mano61, K, hand_model)
    uv9 = project(decoded.keypoints[:, 9:10], K)[:, 0]
    assert torch.allclose(uv9, mano61[:, 58:60], atol=1e-9)
    assert torch.allclose(mano61[:, 60], K[:, 0, 0] / decoded.keypoints[:, 9, 2])
    # The derived root is exactly keypoint 9.
    assert torch.allclose(root_position(mano61[:, 58:60], mano61[:, 60], K), decoded.keypoints[:, 9])


def test_flat_hand_mean_model_is_refused(standin_path) -> None:
    flat = HandModel(standin_path, flat_hand_mean=True)
    with pytest.raises(ValueError, match="hands_mean"):
        from_freihand(torch.zeros(1, 61), torch.eye(3)[None], flat)
