"""HandModel: smplx skinning, FreiHAND keypoints, hands_mean convention, left/right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import smplx
import torch

from handmesh.geometry.rotation import axis_angle_to_matrix
from handmesh.mano.constants import FREIHAND_KEYPOINT_ORDER, FREIHAND_TIP_VERTEX_IDS
from handmesh.mano.file import load_mano_file
from handmesh.mano.hand_model import HandModel

torch.manual_seed(0)


def _random_hand(batch: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    go = torch.randn(batch, 3, generator=g, dtype=torch.float64)
    hp = 0.4 * torch.randn(batch, 45, generator=g, dtype=torch.float64)
    betas = torch.randn(batch, 10, generator=g, dtype=torch.float64)
    return go, hp, betas


def test_shapes_and_faces(hand_model: HandModel) -> None:
    out = hand_model(*_random_hand(3))
    assert out.vertices.shape == (3, 778, 3) and out.keypoints.shape == (3, 21, 3)
    assert out.joints.shape == (3, 16, 3) and hand_model.faces.shape == (1538, 3)


def test_matches_smplx_mano(hand_model: HandModel, standin_path: Path) -> None:
    """Same vertices as smplx's own MANO class (use_pca=False, flat_hand_mean=False)."""
    go, hp, betas = _random_hand()
    transl = torch.tensor([[0.02, -0.01, 0.5]], dtype=torch.float64).expand(5, 3)
    ref = smplx.MANO(str(standin_path), use_pca=False, flat_hand_mean=False, dtype=torch.float64)
    ref_out = ref(global_orient=go, hand_pose=hp, betas=betas, transl=transl)
    out = hand_model(go, hp, betas, transl)
    assert torch.allclose(out.vertices, ref_out.vertices, atol=1e-7)


def test_keypoints_follow_freihand_rule_not_smplx_joints(hand_model: HandModel, standin_path: Path) -> None:
    go, hp, betas = _random_hand()
    out = hand_model(go, hp, betas)
    data = load_mano_file(standin_path)
    verts = out.vertices.numpy()
    j16 = np.einsum("jv,bvc->bjc", data["J_regressor"], verts)
    expected = np.concatenate([j16, verts[:, list(FREIHAND_TIP_VERTEX_IDS)]], axis=1)[:, list(FREIHAND_KEYPOINT_ORDER)]
    np.testing.assert_allclose(out.keypoints.numpy(), expected, atol=1e-12)
    # The kinematic joints (what smplx returns) differ from J_regressor on the posed mesh.
    kin = out.joints.numpy()[:, [0, 13, 14, 15, 1, 2, 3, 4, 5, 6, 10, 11, 12, 7, 8, 9]]
    regressed = expected[:, [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19]]
    assert np.abs(kin - regressed).max() > 1e-4
    # Wrist is the root joint in both: posing does not move it relative to the kinematic root.
    np.testing.assert_allclose(out.keypoints[:, 0].numpy(), expected[:, 0])


def test_rotation_matrix_input_equals_axis_angle(hand_model: HandModel) -> None:
    go, hp, betas = _random_hand()
    absolute = axis_angle_to_matrix((hp + hand_model.hands_mean).reshape(5, 15, 3))
    a = hand_model(go, hp, betas)
    b = hand_model(axis_angle_to_matrix(go), absolute, betas)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-12)


def test_flat_hand_mean_convention(standin_path: Path, hand_model: HandModel) -> None:
    flat = HandModel(standin_path, flat_hand_mean=True, dtype=torch.float64)
    go, hp, betas = _random_hand()
    a = hand_model(go, hp, betas)
    b = flat(go, hp + hand_model.hands_mean, betas)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-12)
    # Zeros are the relaxed mean hand in one convention and a flat hand in the other.
    zeros = torch.zeros(1, 45, dtype=torch.float64)
    assert (hand_model(go[:1], zeros).vertices - flat(go[:1], zeros).vertices).abs().max() > 5e-3


def test_left_hand_is_the_mirror_of_the_right(hand_model: HandModel, standin_left_path: Path) -> None:
    left = HandModel(standin_left_path, side="left", dtype=torch.float64)
    assert left.side == "left" and hand_model.side == "right"
    go, hp, betas = _random_hand()
    mirror = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)  # axis-angle under x -> -x
    right_out = hand_model(go, hp, betas)
    left_out = left(go * mirror, (hp.reshape(5, 15, 3) * mirror).reshape(5, 45), betas)
    flip = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert torch.allclose(left_out.vertices, right_out.vertices * flip, atol=1e-9)
    assert torch.allclose(left_out.keypoints, right_out.keypoints * flip, atol=1e-9)
    # Winding is reversed so that normals still point out of the mirrored mesh.
    assert torch.equal(left.faces, hand_model.faces[:, [0, 2, 1]]) or torch.equal(
        left.faces[:, [0, 2, 1]], hand_model.faces
    )


def test_translation_shifts_everything(hand_model: HandModel) -> None:
    go, hp, betas = _random_hand(2)
    t = torch.tensor([[0.1, 0.2, 0.3], [-0.1, 0.0, 0.7]], dtype=torch.float64)
    a, b = hand_model(go, hp, betas), hand_model(go, hp, betas, t)
    assert torch.allclose(b.vertices - a.vertices, t[:, None].expand(-1, 778, -1))
    assert torch.allclose(b.keypoints - a.keypoints, t[:, None].expand(-1, 21, -1))
