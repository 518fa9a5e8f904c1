"""Left hands by mirroring: a flipped image gives the mirrored prediction, a valid left-hand mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from synthetic_set import synthetic_root  # noqa: F401 (fixture)

from handmesh.data.freihand import FreiHANDDataset
from handmesh.geometry.camera import project
from handmesh.inference import faces_for_side, mirror_prediction, predict, predict_arrays, predict_left
from handmesh.mano.constants import ROOT_KEYPOINT
from handmesh.mano.hand_model import HandModel
from handmesh.mirror import (
    mirror_images,
    mirror_intrinsics,
    mirror_pixels,
    mirror_points,
    mirror_rotations,
    reverse_winding,
)
from handmesh.model.encoder import create_encoder
from handmesh.model.hand_regressor import HandRegressor
from handmesh.model.head import MANOHead

SIZE = 64


@pytest.fixture(scope="module")
def net(standin_path: Path) -> HandRegressor:
    """A tiny random regressor whose outputs depend clearly on the image (not mirror-symmetric)."""
    torch.manual_seed(0)
    hand = HandModel(standin_path)
    encoder = create_encoder("fastvit_t8", pretrained=False)
    head = MANOHead(encoder.num_features, hand.hands_mean, hidden=32, iterations=2)
    torch.nn.init.normal_(head.delta.weight, std=0.05)  # default init is near zero: outputs ~ the mean hand
    return HandRegressor(encoder, head, hand, SIZE).eval()


@pytest.fixture(scope="module")
def samples(synthetic_root: Path) -> dict[str, torch.Tensor]:  # noqa: F811
    """Two training samples (right hands) with masks: images (B, 3, S, S), K, GT vertices, masks."""
    ds = FreiHANDDataset(synthetic_root, "training", versions=("gs",), input_size=SIZE, return_mask=True)
    items = [ds[i] for i in range(2)]
    return {k: torch.stack([it[k] for it in items]) for k in ("image", "K", "vertices", "mask", "index")}


def test_mirror_intrinsics_match_flipped_pixels(samples: dict) -> None:
    """Mirrored 3D points projected with the mirrored K land on the flipped image's hand (its mask)."""
    K, verts, mask = samples["K"], samples["vertices"], samples["mask"]
    K_left = mirror_intrinsics(K, SIZE)
    left_mask = mirror_images(mask)
    for uv_fn, m in ((lambda: project(verts, K), mask), (lambda: project(mirror_points(verts), K_left), left_mask)):
        uv = uv_fn().round().long().clamp(0, SIZE - 1)
        hits = torch.stack([m[b, uv[b, :, 1], uv[b, :, 0]] for b in range(len(uv))])
        assert hits.float().mean() > 0.9  # the (right or mirrored) mesh covers its hand
    # Exactly: u -> W - 1 - u.
    torch.testing.assert_close(project(mirror_points(verts), K_left), mirror_pixels(project(verts, K), SIZE))
    torch.testing.assert_close(mirror_intrinsics(K_left, SIZE), K)


def test_left_prediction_is_the_mirrored_right_prediction(net: HandRegressor, samples: dict) -> None:
    images, K = samples["image"], samples["K"]
    with torch.no_grad():
        right = net(images, K)
        left = predict_left(net, mirror_images(images), mirror_intrinsics(K, SIZE))
        direct_on_flipped = net(mirror_images(images), mirror_intrinsics(K, SIZE))
    torch.testing.assert_close(left.vertices, mirror_points(right.vertices), atol=1e-6, rtol=0)
    torch.testing.assert_close(left.keypoints, mirror_points(right.keypoints), atol=1e-6, rtol=0)
    torch.testing.assert_close(left.rotmats, mirror_rotations(right.rotmats), atol=1e-6, rtol=0)
    torch.testing.assert_close(left.betas, right.betas)
    # The test is not vacuous: the network treats a flipped image differently from a left-hand query.
    assert (direct_on_flipped.vertices - left.vertices).abs().max() > 1e-3
    # The left mesh projects onto the flipped image where the right one projects onto the original.
    uv_left = project(left.vertices, mirror_intrinsics(K, SIZE))
    torch.testing.assert_close(uv_left, mirror_pixels(project(right.vertices, K), SIZE), atol=1e-3, rtol=0)
    assert predict(net, images, K, "right").vertices.equal(right.vertices)
    with pytest.raises(ValueError, match="side must be"):
        predict(net, images, K, "middle")


def test_left_mesh_is_the_left_mano_model(net: HandRegressor, samples: dict, standin_left_path: Path) -> None:
    """The mirrored prediction is what the LEFT hand model gives for the mirrored joint rotations."""
    images, K = samples["image"], samples["K"]
    with torch.no_grad():
        left = predict_left(net, mirror_images(images), mirror_intrinsics(K, SIZE))
        model = HandModel(standin_left_path, side="left")
        out = model(left.rotmats[:, 0], left.rotmats[:, 1:], left.betas)
    root = out.keypoints[:, ROOT_KEYPOINT : ROOT_KEYPOINT + 1]
    torch.testing.assert_close(out.vertices - root + left.transl[:, None], left.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.keypoints - root, left.keypoints_rel, atol=1e-5, rtol=0)


def test_left_faces_point_outward(net: HandRegressor, samples: dict) -> None:
    with torch.no_grad():
        left = predict_left(net, mirror_images(samples["image"]), mirror_intrinsics(samples["K"], SIZE))
    faces = net.hand_model.faces.numpy()
    left_faces = faces_for_side(faces, "left")
    np.testing.assert_array_equal(left_faces, reverse_winding(faces))
    assert faces_for_side(faces, "right") is faces
    v = left.vertices[0].numpy().astype(np.float64)
    # Signed volume (the small open wrist barely changes it): positive for outward-facing triangles.
    assert trimesh.Trimesh(v, left_faces, process=False).volume > 0  # outward normals
    assert trimesh.Trimesh(v, faces, process=False).volume < 0  # right-hand winding would be inside-out


def test_predict_arrays_left(net: HandRegressor, samples: dict) -> None:
    images, K, index = samples["image"], samples["K"], samples["index"]
    right = predict_arrays(net, [{"image": images, "K": K, "index": index}])
    left = predict_arrays(net, [{"image": mirror_images(images), "K": mirror_intrinsics(K, SIZE), "index": index}],
                          side="left")  # fmt: skip
    np.testing.assert_allclose(left["vertices"], right["vertices"] * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(left["cam"], right["cam"] * [1, -1, 1], atol=1e-6)
    # Mirroring twice is the identity.
    with torch.no_grad():
        pred = net(images, K)
    twice = mirror_prediction(mirror_prediction(pred))
    for a, b in zip(twice, pred, strict=True):
        torch.testing.assert_close(a, b)
