"""Random hands and cameras for the synthetic FreiHAND-format set, annotated by FreiHAND's own rule.

Per sample (each from its own seeded stream, so results do not depend on batching or workers):
- finger pose: Gaussian coefficients on MANO's pose components (`hands_components`), with the
  spread of the model's own training coefficients (`hands_coeffs`) where the file has them,
  clipped at 2 std: natural poses from open hand to fist, relative to `hands_mean`;
- betas ~ N(0, 1) clipped to [-2, 2];
- global orientation: palm or back towards the camera (tilted up to `max_tilt_deg`), any in-plane angle;
- camera: fx = fy in `focal_range`, principal point at the centre +- `principal_jitter_px`;
- placement: keypoint 9 at depth in `depth_range`, projected near the image centre (+- jitter),
  the hand spanning `fill_range` of the image side.
The written annotation is the 61 numbers of `to_freihand`; keypoints and vertices are what
`from_freihand` decodes from those numbers (float64), exactly as anyone with FreiHAND's rule would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from handmesh.geometry.rotation import matrix_to_axis_angle
from handmesh.mano.constants import BONE_KEYPOINTS, ROOT_KEYPOINT
from handmesh.mano.freihand_params import from_freihand, to_freihand
from handmesh.mano.hand_model import HandModel

SPLIT_CODES = {"training": 0, "evaluation": 1}
GEOMETRY_STREAM, APPEARANCE_STREAM = 0, 1


@dataclass(frozen=True)
class SceneConfig:
    """Ranges of the random cameras and hand placements (FreiHAND-like for 224 x 224 crops)."""

    size: int = 224
    focal_range: tuple[float, float] = (400.0, 900.0)
    principal_jitter_px: float = 10.0
    depth_range: tuple[float, float] = (0.4, 0.9)
    root_jitter_px: float = 8.0
    fill_range: tuple[float, float] = (0.5, 0.8)  # hand extent / image side
    max_tilt_deg: float = 55.0
    pose_spread: float = 1.0  # multiplies the pose-coefficient std
    grasp_range: tuple[float, float] = (-0.25, 1.0)  # grasp amount: 0 mean hand, 1 fist, < 0 opened
    fist_angle: float = 1.6  # radians: largest joint rotation of the full grasp
    beta_clip: float = 2.0


class SyntheticHands(NamedTuple):
    """Annotations of n samples, float64, in FreiHAND's JSON shapes."""

    K: np.ndarray  # (n, 3, 3)
    mano: np.ndarray  # (n, 1, 61)
    xyz: np.ndarray  # (n, 21, 3)
    verts: np.ndarray  # (n, 778, 3)
    scale: np.ndarray  # (n,)


def sample_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """The random stream of one sample (geometry or appearance)."""
    return np.random.default_rng([seed, SPLIT_CODES[split], index, stream])


def pose_prior_std(model: dict[str, Any]) -> np.ndarray:
    """Std (45,) of the pose coefficients: from the model's `hands_coeffs`, else a decaying default."""
    coeffs = model.get("hands_coeffs")
    if coeffs is not None and np.ndim(coeffs) == 2 and np.shape(coeffs)[0] > 1 and np.shape(coeffs)[1] == 45:
        std = np.asarray(coeffs, dtype=np.float64).std(axis=0)
        if np.isfinite(std).all() and std.max() > 0:
            return std
    return 0.8 / (1.0 + np.arange(45) / 4.0)


class GraspAxis(NamedTuple):
    """The pose component that closes the hand: coefficient = `sign * fist_coefficient * amount`."""

    component: int
    sign: float
    fist_coefficient: float


def grasp_axis(hand_model: HandModel, fist_angle: float = 1.6, candidates: int = 5) -> GraspAxis:
    """Find, among the first pose components, the one that most brings the fingertips to the wrist."""
    dtype = hand_model.v_template.dtype
    components = hand_model.hands_components[:candidates]  # (C, 45)
    poses = torch.cat([components, -components])  # (2C, 45) relative to hands_mean
    out = hand_model(torch.zeros(len(poses), 3, dtype=dtype), poses.to(dtype))
    tips = out.keypoints[:, [4, 8, 12, 16, 20]] - out.keypoints[:, :1]
    reach = tips.norm(dim=-1).mean(dim=-1).cpu().numpy()  # (2C,)
    closing = reach[:candidates] - reach[candidates:]  # < 0: +component closes the hand
    k = int(np.argmax(np.abs(closing)))
    fist = fist_angle / float(components[k].abs().max())
    return GraspAxis(component=k, sign=1.0 if closing[k] < 0 else -1.0, fist_coefficient=fist)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def canonical_frame(hand_model: HandModel) -> np.ndarray:
    """(3, 3) columns: finger direction (wrist -> keypoint 9), palm normal, their cross product, of the mean hand."""
    dtype = hand_model.v_template.dtype
    kp = hand_model(torch.zeros(1, 3, dtype=dtype), torch.zeros(1, 45, dtype=dtype)).keypoints[0].cpu().numpy()
    d = _normalize(kp[ROOT_KEYPOINT] - kp[0])
    n = np.cross(kp[5] - kp[0], kp[17] - kp[0])
    n = _normalize(n - d * (n @ d))
    return np.stack([d, n, np.cross(d, n)], axis=1)


def _axis_angle_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def sample_orientation(rng: np.random.Generator, frame: np.ndarray, max_tilt_deg: float) -> np.ndarray:
    """A rotation (3, 3) showing the palm or the back to the camera, tilted, at any in-plane angle."""
    facing = 1.0 if rng.random() < 0.5 else -1.0
    target = np.stack([[0.0, -1.0, 0.0], [0.0, 0.0, facing], [-facing, 0.0, 0.0]], axis=1)  # fingers up
    align = target @ frame.T
    tilt_axis = np.array([*_normalize(rng.normal(size=2)), 0.0])
    tilt = _axis_angle_rotation(tilt_axis, math.radians(max_tilt_deg) * math.sqrt(rng.random()))
    spin = _axis_angle_rotation(np.array([0.0, 0.0, 1.0]), rng.uniform(-math.pi, math.pi))
    return spin @ tilt @ align


def _place(rng: np.random.Generator, extent_m: float, cfg: SceneConfig) -> tuple[np.ndarray, np.ndarray]:
    """Camera K (3, 3) and the camera-frame position (3,) of keypoint 9 for a hand of this extent."""
    ratio = rng.uniform(*cfg.fill_range) * cfg.size / extent_m  # f / z, pixels per metre at the hand
    lo = max(cfg.focal_range[0], cfg.depth_range[0] * ratio)
    hi = min(cfg.focal_range[1], cfg.depth_range[1] * ratio)
    f = rng.uniform(lo, hi) if lo <= hi else float(np.clip(ratio * np.mean(cfg.depth_range), *cfg.focal_range))
    z = float(np.clip(f / ratio, *cfg.depth_range))
    c = cfg.size / 2 + rng.uniform(-cfg.principal_jitter_px, cfg.principal_jitter_px, size=2)
    K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
    uv = cfg.size / 2 + np.clip(
        rng.normal(0.0, cfg.root_jitter_px, size=2), -2 * cfg.root_jitter_px, 2 * cfg.root_jitter_px
    )
    root = z * np.array([(uv[0] - c[0]) / f, (uv[1] - c[1]) / f, 1.0])
    return K, root


def _sample_chunk(
    model: HandModel,
    frame: np.ndarray,
    grasp: GraspAxis,
    pose_std: np.ndarray,
    split: str,
    indices: list[int],
    seed: int,
    cfg: SceneConfig,
) -> SyntheticHands:
    dtype = torch.float64
    components = model.hands_components.cpu().numpy()
    orient, pose, betas = [], [], []
    rngs = [sample_rng(seed, split, i, GEOMETRY_STREAM) for i in indices]
    for rng in rngs:
        coeffs = np.clip(rng.normal(size=45), -2.0, 2.0) * pose_std * cfg.pose_spread
        coeffs[grasp.component] = grasp.sign * grasp.fist_coefficient * rng.uniform(*cfg.grasp_range)
        pose.append(coeffs @ components)
        betas.append(np.clip(rng.normal(size=10), -cfg.beta_clip, cfg.beta_clip))
        orient.append(sample_orientation(rng, frame, cfg.max_tilt_deg))
    global_orient = matrix_to_axis_angle(torch.as_tensor(np.stack(orient), dtype=dtype))
    hand_pose, beta_t = (torch.as_tensor(np.stack(x), dtype=dtype) for x in (pose, betas))
    posed = model(global_orient, hand_pose, beta_t)
    verts_rel = (posed.vertices - posed.keypoints[:, ROOT_KEYPOINT : ROOT_KEYPOINT + 1]).cpu().numpy()
    Ks, transl = [], []
    for b, rng in enumerate(rngs):
        extent = float((verts_rel[b, :, :2].max(0) - verts_rel[b, :, :2].min(0)).max())
        K, root = _place(rng, extent, cfg)
        Ks.append(K)
        transl.append(root - posed.keypoints[b, ROOT_KEYPOINT].cpu().numpy())
    K_t = torch.as_tensor(np.stack(Ks), dtype=dtype)
    mano = to_freihand(global_orient, hand_pose, beta_t, torch.as_tensor(np.stack(transl)), K_t, model)
    decoded = from_freihand(mano, K_t, model)
    xyz = decoded.keypoints.cpu().numpy()
    a, b = BONE_KEYPOINTS
    return SyntheticHands(
        K=K_t.numpy(),
        mano=mano.cpu().numpy()[:, None, :],
        xyz=xyz,
        verts=decoded.vertices.cpu().numpy(),
        scale=np.linalg.norm(xyz[:, a] - xyz[:, b], axis=-1),
    )


def sample_hands(
    hand_model: HandModel,
    pose_std: np.ndarray,
    split: str,
    count: int,
    seed: int,
    cfg: SceneConfig = SceneConfig(),
    batch: int = 256,
) -> SyntheticHands:
    """Draw `count` hands of a split and annotate them exactly as FreiHAND does (float64).

    Each sample has its own random stream, so the result does not depend on `batch`.
    """
    if hand_model.v_template.dtype != torch.float64:
        raise ValueError("sample_hands needs a float64 HandModel (ground truth is computed in float64)")
    frame = canonical_frame(hand_model)
    grasp = grasp_axis(hand_model, cfg.fist_angle)
    parts: list[SyntheticHands] = []
    for start in range(0, count, batch):
        indices = list(range(start, min(count, start + batch)))
        # A batch of exactly 3 axis-angles (3, 3) would read as one rotation matrix in HandModel:
        # compute one extra sample and drop it.
        padded = indices + [indices[-1] + 1] if len(indices) == 3 else indices
        chunk = _sample_chunk(hand_model, frame, grasp, pose_std, split, padded, seed, cfg)
        parts.append(SyntheticHands(*(x[: len(indices)] for x in chunk)))
    if not parts:
        empty = (np.zeros((0, 3, 3)), np.zeros((0, 1, 61)), np.zeros((0, 21, 3)), np.zeros((0, 778, 3)), np.zeros(0))
        return SyntheticHands(*empty)
    return SyntheticHands(*(np.concatenate(x, axis=0) for x in zip(*parts, strict=True)))
