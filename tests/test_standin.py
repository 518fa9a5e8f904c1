"""The procedural stand-in hand model: official layout, determinism, anatomy, rigging, shape, mirror, CLI."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import trimesh

from handmesh.mano.constants import FREIHAND_TIP_VERTEX_IDS, MANO_PARENTS
from handmesh.mano.file import load_mano_file
from handmesh.mano.hand_model import HandModel
from handmesh.mano.standin import CHAINS, MANO_RIGHT_REST_JOINTS, POSE_NAMES, build_standin, standin_pose

TIPS = dict(zip(("thumb", "index", "middle", "ring", "pinky"), FREIHAND_TIP_VERTEX_IDS, strict=True))


@pytest.fixture(scope="module")
def raw(standin_path: Path) -> dict:
    """The pickle exactly as written (no loader in between)."""
    with standin_path.open("rb") as fh:
        return pickle.load(fh, encoding="latin1")


@pytest.fixture(scope="module")
def model(standin_path: Path) -> dict:
    return load_mano_file(standin_path, side="right")


def _edges(faces: np.ndarray) -> np.ndarray:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def _pose(hm: HandModel, hand_pose: np.ndarray, betas: np.ndarray | None = None) -> torch.Tensor:
    hp = torch.as_tensor(np.atleast_2d(hand_pose), dtype=torch.float64)
    b = None if betas is None else torch.as_tensor(np.atleast_2d(betas), dtype=torch.float64)
    return hm(torch.zeros(hp.shape[0], 3, dtype=torch.float64), hp, b).vertices


@pytest.fixture(scope="module")
def flat_model(standin_path: Path) -> HandModel:
    """Absolute-pose hand model (zeros = flat hand)."""
    return HandModel(standin_path, flat_hand_mean=True, dtype=torch.float64)


# -- layout ----------------------------------------------------------------------------------------


def test_official_layout_keys_shapes_dtypes(raw: dict) -> None:
    expected = {
        "v_template": (778, 3),
        "f": (1538, 3),
        "J_regressor": (16, 778),
        "weights": (778, 16),
        "posedirs": (778, 3, 135),
        "shapedirs": (778, 3, 10),
        "kintree_table": (2, 16),
        "hands_components": (45, 45),
        "hands_mean": (45,),
        "J": (16, 3),
    }
    for key, shape in expected.items():
        assert raw[key].shape == shape, key
    assert raw["hands_coeffs"].ndim == 2 and raw["hands_coeffs"].shape[1] == 45
    assert sp.issparse(raw["J_regressor"])  # the official file stores a scipy sparse matrix
    assert np.issubdtype(raw["f"].dtype, np.integer)
    for key in ("v_template", "weights", "posedirs", "shapedirs", "hands_components", "hands_mean"):
        assert raw[key].dtype == np.float64, key
    assert raw["bs_style"] == "lbs" and raw["bs_type"] == "lrotmin"
    # No chumpy or other foreign objects: every value is numpy, scipy.sparse or a builtin.
    for key, value in raw.items():
        assert isinstance(value, np.ndarray | str | bool) or sp.issparse(value), (key, type(value))
    parents = raw["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # the official file stores 2**32 - 1 for the root
    assert tuple(parents) == MANO_PARENTS and tuple(raw["kintree_table"][1]) == tuple(range(16))
    assert raw["handmesh_standin"] is True


def test_mesh_is_a_closed_surface_with_an_open_wrist(model: dict) -> None:
    mesh = trimesh.Trimesh(model["v_template"], model["f"], process=False)
    assert mesh.is_winding_consistent
    boundary = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
    assert len(boundary) == 16  # the 16-vertex wrist opening, like MANO
    assert mesh.area_faces.min() > 1e-8  # no degenerate triangles
    assert 0.8e-4 < abs(mesh.volume) < 2.5e-4  # a hand is ~100-200 cm^3 (closing the wrist adds little)
    assert mesh.volume > 0  # outward normals (counter-clockwise seen from outside)


def test_loads_through_loader_and_hand_model(model: dict, hand_model: HandModel) -> None:
    assert model["is_standin"] and model["side"] == "right"
    assert hand_model.is_standin and hand_model.side == "right"
    out = hand_model(torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 45, dtype=torch.float64))
    assert out.vertices.shape == (1, 778, 3) and out.keypoints.shape == (1, 21, 3)


def test_deterministic_byte_identical(raw: dict) -> None:
    a, b = build_standin("right"), build_standin("right")
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if sp.issparse(x):
            x, y = x.toarray(), y.toarray()
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), key
            x_file = raw[key].toarray() if sp.issparse(raw[key]) else raw[key]
            assert x.tobytes() == np.asarray(x_file).tobytes(), key  # the written file too
        else:
            assert x == y
    a["v_template"][0, 0] = 123.0  # fresh copies: mutating one build does not leak into the next
    assert build_standin("right")["v_template"][0, 0] != 123.0


# -- anatomy ---------------------------------------------------------------------------------------


def test_rest_joints_are_the_published_mano_layout(model: dict) -> None:
    joints = model["J_regressor"] @ model["v_template"]
    np.testing.assert_allclose(joints, MANO_RIGHT_REST_JOINTS, atol=1e-5)
    wrist = joints[0]
    knuckles = joints[[1, 4, 7, 10]]
    # Wrist at +x, fingers toward -x: every finger chain runs away from the wrist along -x.
    assert wrist[0] > 0.09 and np.all(knuckles[:, 0] < wrist[0] - 0.06)
    for name, chain in CHAINS.items():
        x = joints[list(chain), 0]
        assert np.all(np.diff(x) < 0), name
    # Thumb toward +z, then index, middle, ring, pinky in decreasing z (knuckles across the palm).
    z = {name: joints[chain[0], 2] for name, chain in CHAINS.items()}
    assert joints[15, 2] > joints[13, 2] > z["index"] > z["middle"] > z["ring"] > z["pinky"]
    # The middle finger reaches farthest from the wrist and the pinky least (knuckle to tip vertex).
    lengths = {n: np.linalg.norm(model["v_template"][TIPS[n]] - wrist) for n in CHAINS if n != "thumb"}
    assert max(lengths, key=lengths.get) == "middle" and min(lengths, key=lengths.get) == "pinky"


def test_fingertip_vertices_are_the_extreme_tips(model: dict) -> None:
    v, w = model["v_template"], model["weights"]
    joints = model["J_regressor"] @ v
    for name, tip in TIPS.items():
        j2, j3 = CHAINS[name][1:]
        axis = (joints[j3] - joints[j2]) / np.linalg.norm(joints[j3] - joints[j2])
        distal = np.where(w[:, j3] > 0.5)[0]  # the distal phalanx of that finger
        assert tip in distal, name
        reach = (v[distal] - joints[j3]) @ axis
        assert distal[np.argmax(reach)] == tip, name
        assert 0.015 < reach.max() < 0.035, name  # a fingertip 1.5-3.5 cm past the last joint
        # The tip lies on the finger's axis (not on a side of the nail).
        off_axis = np.linalg.norm((v[tip] - joints[j3]) - reach.max() * axis)
        assert off_axis < 0.003, name


def test_hands_mean_is_a_relaxed_curl(model: dict, flat_model: HandModel) -> None:
    mean = model["hands_mean"].reshape(15, 3)
    angles = np.linalg.norm(mean, axis=1)
    assert np.all(angles > 0.05) and np.all(angles < 0.8)  # every joint a little flexed, none fist-like
    # Flexion bends the fingertips toward the palm (-y) and toward the wrist.
    flat = _pose(flat_model, np.zeros(45))[0].numpy()
    relaxed = _pose(flat_model, model["hands_mean"])[0].numpy()
    for name in ("index", "middle", "ring", "pinky"):
        tip = TIPS[name]
        assert relaxed[tip, 1] < flat[tip, 1] - 0.01, name
        assert relaxed[tip, 0] > flat[tip, 0], name
    # And the default (FreiHAND) convention gives exactly that relaxed hand for zero pose.
    hm_mean = HandModel(dict(model), flat_hand_mean=False, dtype=torch.float64)
    np.testing.assert_allclose(_pose(hm_mean, np.zeros(45))[0].numpy(), relaxed, atol=1e-12)


# -- rigging ---------------------------------------------------------------------------------------


def test_skinning_weights_sum_to_one_and_are_smooth(model: dict) -> None:
    w, f = model["weights"], model["f"]
    assert np.all(w >= 0) and np.allclose(w.sum(axis=1), 1.0, atol=1e-10)
    e = _edges(f)
    jump = np.abs(w[e[:, 0]] - w[e[:, 1]]).max(axis=1)
    assert jump.max() < 0.6  # no edge jumps from one bone to another
    assert jump.mean() < 0.2  # blends are spread over several edges
    # Each finger segment is driven by its own bone: tips fully by the distal joint.
    for name, tip in TIPS.items():
        assert w[tip, CHAINS[name][2]] > 0.95, name
    # Every joint actually drives some vertices, and blends exist around every finger joint.
    assert np.all(w.max(axis=0) > 0.9)
    blended = (w > 0.1) & (w < 0.9)
    for j in range(1, 16):
        assert blended[:, j].sum() >= 5, j


def test_posed_hand_has_no_exploding_vertices(flat_model: HandModel) -> None:
    g = torch.Generator().manual_seed(0)
    poses = [standin_pose(n) for n in POSE_NAMES] + list(0.3 * torch.randn(6, 45, generator=g, dtype=torch.float64))
    verts = _pose(flat_model, np.stack([np.asarray(p) for p in poses]))
    rest = _pose(flat_model, np.zeros(45))[0]
    f = flat_model.faces
    e = torch.as_tensor(_edges(f.numpy()))
    rest_len = (rest[e[:, 0]] - rest[e[:, 1]]).norm(dim=1)
    for i, v in enumerate(verts):
        assert torch.isfinite(v).all()
        # Everything stays within a hand's reach of the wrist, and no edge stretches or collapses.
        assert (v - v[:1]).norm(dim=1).max() < 0.25, i
        ratio = (v[e[:, 0]] - v[e[:, 1]]).norm(dim=1) / rest_len
        assert ratio.max() < 2.5 and ratio.min() > 0.25, (i, ratio.max().item(), ratio.min().item())
        # Rigid parts stay rigid: the distance tip <-> its distal joint region is unchanged.
        j = flat_model.J_regressor @ v
        for name, tip in TIPS.items():
            j3 = CHAINS[name][2]
            assert torch.isclose((v[tip] - j[j3]).norm(), (rest[tip] - (flat_model.J_regressor @ rest)[j3]).norm(),
                                 atol=2e-3), (i, name)  # fmt: skip


def test_named_poses_articulate(flat_model: HandModel) -> None:
    kp = {n: flat_model(torch.zeros(1, 3, dtype=torch.float64),
                        torch.as_tensor(standin_pose(n))[None]).keypoints[0] for n in POSE_NAMES}  # fmt: skip
    flat = kp["flat"]

    def reach(k: torch.Tensor, tip: int) -> float:  # fingertip distance from the wrist
        return float((k[tip] - k[0]).norm())

    for tip in (8, 12, 16, 20):  # a fist pulls every fingertip toward the wrist
        assert reach(kp["fist"], tip) < 0.7 * reach(flat, tip)
    assert reach(kp["point"], 8) > 0.95 * reach(flat, 8)  # pointing: the index stays straight ...
    assert reach(kp["point"], 12) < 0.7 * reach(flat, 12)  # ... the others curl
    assert float((kp["pinch"][4] - kp["pinch"][8]).norm()) < 0.01  # pinch: thumb and index tips meet
    with pytest.raises(ValueError, match="unknown stand-in pose"):
        standin_pose("wave")


# -- shape -----------------------------------------------------------------------------------------


def _measure(v: np.ndarray, j: np.ndarray) -> dict[str, float]:
    return {
        "finger length": float(np.linalg.norm(v[TIPS["middle"]] - j[4])),
        "palm width": float(np.linalg.norm(j[1] - j[7])),
        "thickness": float(np.ptp(v[np.abs(v[:, 0] - 0.05) < 0.01, 1])),  # mid-palm slab, along y
    }


def test_shape_directions_change_length_width_thickness(flat_model: HandModel) -> None:
    def measure(betas: np.ndarray) -> dict[str, float]:
        v = _pose(flat_model, np.zeros(45), betas)[0]
        return _measure(v.numpy(), (flat_model.J_regressor @ v).numpy())

    base = measure(np.zeros(10))
    changes = {}
    for k in range(10):
        b = np.zeros(10)
        b[k] = 2.0
        m = measure(b)
        changes[k] = {key: m[key] / base[key] - 1 for key in base}
    assert changes[1]["finger length"] > 0.08  # beta 1: finger length
    assert abs(changes[1]["palm width"]) < 0.02
    assert changes[2]["palm width"] > 0.08  # beta 2: palm width
    assert abs(changes[2]["finger length"]) < 0.02
    assert changes[3]["thickness"] > 0.05  # beta 3: thickness
    assert abs(changes[3]["finger length"]) < 0.02
    assert all(c > 0.05 for c in changes[0].values())  # beta 0: overall size
    # All ten directions do something, and none is a copy of another.
    sd = flat_model.shapedirs.reshape(-1, 10).numpy()
    assert np.all(np.linalg.norm(sd, axis=0) > 1e-3)
    assert np.linalg.matrix_rank(sd, tol=1e-6) == 10
    # Shapes are smooth: negative betas shrink what positive betas grow.
    b = np.zeros(10)
    b[1] = -2.0
    assert measure(b)["finger length"] < base["finger length"]


# -- left hand, CLI --------------------------------------------------------------------------------


def test_left_is_the_mirror_of_right(standin_path: Path, standin_left_path: Path) -> None:
    right = load_mano_file(standin_path, side="right")
    left = load_mano_file(standin_left_path, side="left")
    flip = np.array([-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(left["v_template"], right["v_template"] * flip)
    np.testing.assert_array_equal(left["f"], right["f"][:, [0, 2, 1]])
    np.testing.assert_array_equal(left["weights"], right["weights"])
    np.testing.assert_array_equal(left["J_regressor"], right["J_regressor"])
    # Posing a left hand with the mirrored pose gives the mirrored right-hand mesh.
    g = torch.Generator().manual_seed(3)
    go = 0.5 * torch.randn(2, 3, generator=g, dtype=torch.float64)
    hp = 0.5 * torch.randn(2, 45, generator=g, dtype=torch.float64)
    betas = torch.randn(2, 10, generator=g, dtype=torch.float64)
    aa = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)
    r = HandModel(standin_path, side="right", dtype=torch.float64)(go, hp, betas)
    lm = HandModel(standin_left_path, side="left", dtype=torch.float64)
    out = lm(go * aa, (hp.reshape(2, 15, 3) * aa).reshape(2, 45), betas)
    torch.testing.assert_close(out.vertices, r.vertices * torch.as_tensor(flip), atol=1e-10, rtol=0)
    torch.testing.assert_close(out.keypoints, r.keypoints * torch.as_tensor(flip), atol=1e-10, rtol=0)
    mesh = trimesh.Trimesh(left["v_template"], left["f"], process=False)
    assert mesh.is_winding_consistent and mesh.volume > 0  # still outward-facing after the mirror


def test_cli_writes_a_left_standin(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "hand.pkl"
    cmd = [sys.executable, "-m", "handmesh.mano.standin", "--out", str(out), "--side", "left"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert "STAND-IN" in res.stdout and "left" in res.stdout and str(out) in res.stdout
    data = load_mano_file(out, side="left")
    assert data["is_standin"] and data["side"] == "left"
    with out.open("rb") as fh:
        assert pickle.load(fh)["handmesh_standin"] is True  # the file itself says stand-in
    with pytest.raises(ValueError, match="LEFT-hand"):
        load_mano_file(out, side="right")
