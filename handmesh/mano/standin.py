"""A procedural STAND-IN for the MANO hand model (not MANO), in the official v1.2 pickle layout.

The real MANO model is licensed and never shipped. Tests and the demo use this stand-in instead: a
hand written by code, with the same keys, shapes and dtypes as `MANO_RIGHT.pkl`, the same
canonical frame (rest joints at the published MANO_RIGHT joint positions, fingers toward -x, thumb
on +z, palm facing -y), 778 vertices and 1538 faces (an open wrist), and the fingertip vertices at
FreiHAND's ids (744 thumb, 320 index, 443 middle, 555 ring, 672 pinky).

How it is made (deterministic, no randomness except seeded sample coefficients):
1. A fixed quad-dominant topology: a palm tube (34 vertices a ring) closed at the knuckles by four
   finger tubes (10 a ring) and on its side by the thumb tube (12 a ring), a strip down to a
   16-vertex open wrist, round fingertip caps.
2. Vertices start on that parametric layout, then are pulled onto a smooth implicit surface (a
   rounded palm slab smoothly joined to tapered finger and thumb capsules) with a few rounds of
   tangential smoothing.
3. `J_regressor` rows are convex combinations of the vertices nearest each joint solved to land
   exactly on the published joints; skinning weights blend across each joint plane (then diffuse a
   little around the palm seams so no edge jumps between bones); `shapedirs`
   are finite differences of the whole construction under ten named shape changes (size, finger
   length, palm width, ...); `posedirs` a small bulge at flexing joints.

CLI: `python -m handmesh.mano.standin --out data/mano/standin_MANO_RIGHT.pkl [--side left]`.
"""

from __future__ import annotations

import argparse
import copy
import logging
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from handmesh.atomic import atomic_path

log = logging.getLogger(__name__)

DEFAULT_STANDIN_PATH = Path("data/mano/standin_MANO_RIGHT.pkl")
DEFAULT_STANDIN_LEFT_PATH = Path("data/mano/standin_MANO_LEFT.pkl")

# Published rest joints of MANO_RIGHT (J_regressor @ v_template), metres, MANO joint order.
MANO_RIGHT_REST_JOINTS = np.array(
    [
        [0.0957, 0.0064, 0.0062],  # 0 wrist
        [0.0076, 0.0012, 0.0269], [-0.0251, 0.0052, 0.0291], [-0.0473, 0.0039, 0.0290],  # index
        [0.0010, 0.0049, 0.0028], [-0.0302, 0.0068, -0.0028], [-0.0531, 0.0055, -0.0067],  # middle
        [0.0269, -0.0036, -0.0370], [0.0099, -0.0035, -0.0495], [-0.0060, -0.0042, -0.0599],  # pinky
        [0.0139, 0.0024, -0.0205], [-0.0144, 0.0045, -0.0256], [-0.0379, 0.0028, -0.0332],  # ring
        [0.0716, -0.0091, 0.0320], [0.0519, -0.0082, 0.0557], [0.0297, -0.0137, 0.0702],  # thumb
    ]
)  # fmt: skip

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
CHAINS = {"index": (1, 2, 3), "middle": (4, 5, 6), "pinky": (7, 8, 9), "ring": (10, 11, 12), "thumb": (13, 14, 15)}
TIP_VERTEX_IDS = {"thumb": 744, "index": 320, "middle": 443, "ring": 555, "pinky": 672}
KINTREE_ROOT = 4294967295  # what the official file stores as the root's parent
_PARENTS = (KINTREE_ROOT, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

_PALM_FINGERS = ("index", "middle", "ring", "pinky")  # across the knuckles, +z (thumb side) to -z
_TIP_LENGTH = {"thumb": 0.025, "index": 0.023, "middle": 0.025, "ring": 0.024, "pinky": 0.021}  # last joint -> tip
_RADII = {  # at joint 1, joint 2, joint 3 and the fingertip sphere
    "thumb": (0.0140, 0.0115, 0.0104, 0.0093),
    "index": (0.0104, 0.0095, 0.0086, 0.0079),
    "middle": (0.0107, 0.0097, 0.0088, 0.0081),
    "ring": (0.0101, 0.0092, 0.0084, 0.0077),
    "pinky": (0.0090, 0.0082, 0.0075, 0.0069),
}
_FLATTEN = 0.9  # finger cross-sections: thickness / width

# Topology (fixed; these counts give exactly 778 vertices, 1538 faces and a 16-vertex wrist hole).
_N_FINGER = 10  # vertices per finger ring: 2 sides + 4 dorsal + 4 palmar
_N_THUMB = 12  # vertices per thumb ring
_N_PALM = 4 * (_N_FINGER - 2) + 2  # 34: per finger 4 dorsal + 4 palmar, plus the two palm sides
_N_WRIST = 16
# Merged palm + thumb-base rings: x, palm half width, half thickness, thumb bulge (m).
_MERGED_RINGS = ((0.0875, 0.029, 0.0135, 0.004), (0.067, 0.032, 0.0135, 0.010))
_THUMB_SPAN = np.deg2rad(70.0)  # the thumb's base columns cover +-this angle about the +z edge
_CROTCH = ((-0.052, -0.007, 0.027), (-0.045, -0.011, 0.034))  # thumb-index web vertices, from the wrist
_PALM_T = (0.25, 0.5, 0.75)  # palm rings between the thumb branch (0) and the knuckles (1)
_FINGER_STATIONS = ((0.25, 0.5, 0.75, 1.0), (1 / 3, 2 / 3, 1.0), (0.5, 1.0))  # rings per phalanx
_THUMB_STATIONS = ((0.3, 0.55, 0.8, 1.0), (1 / 3, 2 / 3, 1.0), (0.35, 0.7, 1.0))
_CAP_LATITUDE = np.deg2rad(50.0)
_CAP_COUNT = {"thumb": 9, "index": 9, "middle": 9, "ring": 9, "pinky": 9}

# Ten shape directions (per unit beta), applied to the construction and differentiated.
SHAPE_NAMES = (
    "overall size",
    "finger length",
    "palm width",
    "hand thickness",
    "palm length",
    "finger girth",
    "thumb size",
    "little/ring vs index length",
    "rest finger spread",
    "fingertip and thenar fullness",
)
_FD_STEP = 0.25
_RELAX_ITERS = 16


# ----------------------------------------------------------------------------------------------
# Shape specification: a skeleton plus radii, modified by the ten shape parameters.


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _base_spec() -> dict[str, Any]:
    joints = MANO_RIGHT_REST_JOINTS.copy()
    tips = {}
    for name, (_, j2, j3) in CHAINS.items():
        d = _unit(joints[j3] - joints[j2])
        tips[name] = joints[j3] + _TIP_LENGTH[name] * d
    return {
        "joints": joints,
        "tips": tips,
        "radii": {k: np.array(v) for k, v in _RADII.items()},
        "flatten": _FLATTEN,
        "palm_half": 0.0135,  # half thickness of the palm slab
        "palm_y": 0.0035,
        "palm_round": 0.007,
        "thenar": 0.0,
        "scale": 1.0,
    }


def _chain_points(spec: dict[str, Any], finger: str) -> np.ndarray:
    """Joint 1, joint 2, joint 3 and tip of a finger (4, 3)."""
    return np.vstack([spec["joints"][list(CHAINS[finger])], spec["tips"][finger][None]])


def _set_chain(spec: dict[str, Any], finger: str, pts: np.ndarray) -> None:
    spec["joints"][list(CHAINS[finger])] = pts[:3]
    spec["tips"][finger] = pts[3]


def _scale_lengths(spec: dict[str, Any], finger: str, factor: float) -> None:
    """Scale the phalanx lengths of a finger (its base joint stays)."""
    pts = _chain_points(spec, finger)
    bones = np.diff(pts, axis=0) * factor
    _set_chain(spec, finger, np.vstack([pts[:1], pts[:1] + np.cumsum(bones, axis=0)]))


def _rotate_y(spec: dict[str, Any], finger: str, angle: float) -> None:
    """Rotate a finger about the y axis through its base joint (spread / abduction)."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    pts = _chain_points(spec, finger)
    _set_chain(spec, finger, pts[:1] + (pts - pts[:1]) @ rot.T)


def _shaped_spec(beta: np.ndarray) -> dict[str, Any]:
    """The construction spec for shape parameters `beta` (10,)."""
    b = np.asarray(beta, dtype=np.float64)
    spec = _base_spec()
    spec["scale"] = 1.0 + 0.05 * b[0]
    for f in _PALM_FINGERS:
        _scale_lengths(spec, f, 1.0 + 0.06 * b[1])
    # Palm width: spread the knuckles (and whole fingers) and the thumb base across z.
    z_mid = spec["joints"][4, 2]
    for f in FINGERS:
        pts = _chain_points(spec, f)
        dz = 0.07 * b[2] * (pts[0, 2] - z_mid)
        _set_chain(spec, f, pts + np.array([0.0, 0.0, dz]))
    spec["width"] = 1.0 + 0.07 * b[2]
    spec["palm_half"] *= 1.0 + 0.08 * b[3]
    spec["flatten"] *= 1.0 + 0.04 * b[3]
    # Palm length: knuckles (with fingers) move along x relative to the wrist.
    x_w = spec["joints"][0, 0]
    for f in _PALM_FINGERS:
        pts = _chain_points(spec, f)
        dx = 0.06 * b[4] * (pts[0, 0] - x_w)
        _set_chain(spec, f, pts + np.array([dx, 0.0, 0.0]))
    spec["length"] = 1.0 + 0.06 * b[4]
    for f in _PALM_FINGERS:
        spec["radii"][f] = spec["radii"][f] * (1.0 + 0.07 * b[5])
    _scale_lengths(spec, "thumb", 1.0 + 0.07 * b[6])
    spec["radii"]["thumb"] = spec["radii"]["thumb"] * (1.0 + 0.05 * b[6])
    for f, k in (("pinky", 0.08), ("ring", 0.04), ("index", -0.03)):
        _scale_lengths(spec, f, 1.0 + k * b[7])
    for f, k in (("index", 1.0), ("middle", 0.1), ("ring", -0.8), ("pinky", -1.6), ("thumb", 1.2)):
        _rotate_y(spec, f, 0.04 * k * b[8])
    for f in FINGERS:
        spec["radii"][f] = spec["radii"][f] * (1.0 + 0.06 * b[9] * np.array([0.0, 0.3, 0.8, 1.0]))
    spec["thenar"] = 0.002 * b[9]
    return spec


# ----------------------------------------------------------------------------------------------
# Implicit surface the vertices are pulled onto.


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (blend radius k)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def _sd_capsule(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Distance to a tapered capsule (segment a-b, radii ra-rb), good enough for small tapers."""
    ab = b - a
    t = np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - (ra + t * (rb - ra))


def _palm_outline(spec: dict[str, Any]) -> np.ndarray:
    """Convex palm outline in the (x, z) plane, counter-clockwise, before rounding."""
    j = spec["joints"]
    w = spec.get("width", 1.0)
    ln = spec.get("length", 1.0)
    x_w = j[0, 0]
    inset = 0.2 * np.array([_RADII[f][0] for f in _PALM_FINGERS])
    knuck = [j[CHAINS[f][0]][[0, 2]] + np.array([0.0, -s * inset[i]]) for i, (f, s) in
             enumerate(zip(_PALM_FINGERS, (1, 0, 0, -1), strict=True))]  # fmt: skip
    z_mid = j[4, 2]
    pts = [
        [0.125, z_mid + w * -0.024],
        [x_w - ln * 0.018, z_mid + w * -0.0335],
        [x_w - ln * 0.060, z_mid + w * -0.0365],
        knuck[3],
        knuck[2],
        knuck[1],
        knuck[0],
        [x_w - ln * 0.060, z_mid + w * 0.0285],
        [0.125, z_mid + w * 0.0245],
    ]
    return np.asarray(pts, dtype=np.float64)


def _soft_max(d: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum over the last axis (log-sum-exp with temperature k)."""
    top = d.max(axis=-1)
    return top + k * np.log(np.exp((d - top[..., None]) / k).sum(axis=-1))


def _sd_polygon(q: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) from 2D points q (N, 2) to a convex polygon."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    ab = b - a  # (E, 2)
    aq = q[:, None, :] - a[None]  # (N, E, 2)
    t = np.clip((aq * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    dist = np.linalg.norm(aq - t[..., None] * ab, axis=-1).min(axis=1)
    cross = ab[None, :, 0] * aq[..., 1] - ab[None, :, 1] * aq[..., 0]
    inside = np.all(cross <= 0, axis=1) | np.all(cross >= 0, axis=1)
    return np.where(inside, -dist, dist)


class _HandSurface:
    """Signed distance to the stand-in hand surface."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.outline = _palm_outline(spec)
        self.capsules: dict[str, list[tuple[np.ndarray, np.ndarray, float, float]]] = {}
        for f in FINGERS:
            pts = _chain_points(spec, f)
            r = spec["radii"][f]
            centre = pts[3] - r[3] * _unit(pts[3] - pts[2])
            pts = np.vstack([pts[:3], centre[None]])
            self.capsules[f] = [(pts[i], pts[i + 1], r[i], r[i + 1]) for i in range(3)]

    def _palm(self, p: np.ndarray) -> np.ndarray:
        """A smooth rounded slab: soft maximum of the outline's edge half-planes and the two faces."""
        s = self.spec
        a = self.outline
        edge = np.roll(a, -1, axis=0) - a
        normal = _unit(np.stack([edge[:, 1], -edge[:, 0]], axis=1))
        if ((a.mean(0) - a[0]) @ normal[0]) > 0:  # make the edge normals point outward
            normal = -normal
        d_edges = ((p[:, None, [0, 2]] - a[None]) * normal[None]).sum(-1)  # (N, E) signed distances
        d2 = _soft_max(d_edges, 0.006)
        # Thinner toward the knuckles, slightly arched on the back.
        x_rel = np.clip((p[:, 0] - 0.005) / 0.09, 0.0, 1.0)
        half = s["palm_half"] * (0.86 + 0.14 * x_rel)
        y_c = s["palm_y"] + 0.0025 * x_rel - 0.009 * (p[:, 2] / 0.09) ** 2
        qy = np.sqrt((p[:, 1] - y_c) ** 2 + 1e-8) - half
        return _soft_max(np.stack([d2, qy], axis=1), 0.005)

    def _finger(self, p: np.ndarray, f: str) -> np.ndarray:
        d = np.full(len(p), np.inf)
        flat = self.spec["flatten"]
        for a, b, ra, rb in self.capsules[f]:
            # Flatten the cross-section a little: squash the palm-normal (y) offset.
            q = p.copy()
            q[:, 1] = a[1] + (p[:, 1] - a[1]) / flat
            d = np.minimum(d, _sd_capsule(q, a, b, ra, rb) * (0.5 + 0.5 * flat))
        return d

    def __call__(self, p: np.ndarray) -> np.ndarray:
        palm = self._palm(p)
        j = self.spec["joints"]
        # Thenar eminence and hypothenar pad on the palmar side.
        thenar_r = 0.0135 + self.spec["thenar"]
        palm = _smin(
            palm,
            _sd_capsule(
                p,
                j[0] + [-0.006, -0.009, 0.011],
                j[13] + [-0.002, -0.001, -0.004],
                0.011 + self.spec["thenar"],
                thenar_r,
            ),
            0.012,
        )
        hypo_a = j[0] + [-0.012, -0.008, -0.025]
        hypo_b = j[7] + [0.020, -0.003, 0.004]
        palm = _smin(palm, _sd_capsule(p, hypo_a, hypo_b, 0.0105, 0.0095), 0.010)
        hand = _smin(palm, self._finger(p, "thumb"), 0.012)
        fingers = np.minimum.reduce([self._finger(p, f) for f in _PALM_FINGERS])
        return _smin(hand, fingers, 0.007)

    def gradient(self, p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
        g = np.empty_like(p)
        for i in range(3):
            e = np.zeros(3)
            e[i] = eps
            g[:, i] = (self(p + e) - self(p - e)) / (2 * eps)
        return g

    def project(self, p: np.ndarray, steps: int = 4) -> np.ndarray:
        for _ in range(steps):
            g = self.gradient(p)
            p = p - (self(p) / np.maximum((g * g).sum(1), 1e-12))[:, None] * g
        return p


# ----------------------------------------------------------------------------------------------
# Topology and initial layout.


def _frame(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tube frame: axis d, dorsal-ish e_y (toward +y), lateral e_z = e_y x d (toward +z for d = -x)."""
    d = _unit(d)
    ey = _unit(np.array([0.0, 1.0, 0.0]) - d[1] * d)
    return d, ey, np.cross(ey, d)


def _ring(centre: np.ndarray, d: np.ndarray, radius: float, n: int, flat: float) -> np.ndarray:
    """n points around a tube, counter-clockwise about d, starting at the lateral (+e_z) side."""
    _, ey, ez = _frame(d)
    phi = 2 * np.pi * np.arange(n) / n
    return centre + radius * (np.cos(phi)[:, None] * ez + flat * np.sin(phi)[:, None] * ey)


def _angles(points: np.ndarray, centre: np.ndarray, d: np.ndarray) -> np.ndarray:
    _, ey, ez = _frame(d)
    rel = points - centre
    return np.mod(np.arctan2(rel @ ey, rel @ ez), 2 * np.pi)


def _zip(a: list[int], b: list[int], ang_a: np.ndarray, ang_b: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles between ring a (proximal) and ring b (distal), both counter-clockwise about the
    outward tube direction; any vertex counts. Normals point out of the tube."""
    na, nb = len(a), len(b)
    ua = np.mod(ang_a - ang_a[0], 2 * np.pi)
    ub_all = np.mod(ang_b - ang_a[0], 2 * np.pi)
    k0 = int(np.argmin(ub_all))
    b = b[k0:] + b[:k0]
    ub = np.roll(ub_all, -k0)
    ua = np.append(ua, 2 * np.pi)
    ub = np.append(ub, ub[0] + 2 * np.pi)
    tris, i, k = [], 0, 0
    # B may start after A[0]: begin with the triangle that closes the seam.
    while i < na or k < nb:
        next_a = ua[i + 1] if i < na else np.inf
        next_b = ub[k + 1] if k < nb else np.inf
        if next_a <= next_b:
            tris.append((a[i % na], a[(i + 1) % na], b[k % nb]))
            i += 1
        else:
            tris.append((a[i % na], b[(k + 1) % nb], b[k % nb]))
            k += 1
    return tris


def _quad_strip(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Quads between two rings of equal count, index-aligned, a proximal and b distal."""
    n = len(a)
    tris = []
    for j in range(n):
        a0, a1, b0, b1 = a[j], a[(j + 1) % n], b[j], b[(j + 1) % n]
        tris += [(a0, a1, b1), (a0, b1, b0)]
    return tris


class _Mesh:
    """Vertex list with labels, faces, and the bookkeeping the rigging needs."""

    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.finger: list[str] = []  # "palm-<finger>", a finger name, or "wrist"
        self.faces: list[tuple[int, int, int]] = []
        self.fixed: list[int] = []
        self.smooth: list[int] = []  # junction vertices relaxed over the surface
        self.tips: dict[str, int] = {}

    def add(self, pts: np.ndarray, label: str) -> list[int]:
        start = len(self.verts)
        self.verts.extend(np.atleast_2d(pts))
        self.finger.extend([label] * len(np.atleast_2d(pts)))
        return list(range(start, len(self.verts)))


def _station(pts: np.ndarray, radii: np.ndarray, seg: int, frac: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, direction and radius of a tube ring at fraction `frac` of segment `seg`."""
    dirs = _unit(np.diff(pts, axis=0))
    centre = pts[seg] + frac * (pts[seg + 1] - pts[seg])
    d = dirs[seg]
    if frac >= 1.0 and seg + 1 < len(dirs):
        d = _unit(dirs[seg] + dirs[seg + 1])
    return centre, d, radii[seg] + frac * (radii[seg + 1] - radii[seg])


def _palm_section(
    spec: dict[str, Any], x: float, theta: np.ndarray, half_width: float, half_thick: float
) -> np.ndarray:
    """Points of a rounded-rectangle palm cross-section at `x` for angles theta (0: +z edge, pi/2: back)."""
    c, s = np.cos(theta), np.sin(theta)
    sup = 0.5  # superellipse exponent: a rounded rectangle
    y = spec["palm_y"] + half_thick * np.sign(s) * np.abs(s) ** sup
    z = spec["joints"][0, 2] + half_width * np.sign(c) * np.abs(c) ** sup
    return np.stack([np.full_like(theta, x), y, z], axis=1)


def _layout(spec: dict[str, Any]) -> _Mesh:
    """Topology and initial vertex positions (before the pull onto the implicit surface).

    Palm columns (34 a ring, counter-clockwise seen from the fingertips): 0 thumb-side edge,
    1..16 back of the hand (+z to -z), 17 little-finger edge, 18..33 palm side (-z to +z).
    From the wrist: a 16-vertex open ring, two "merged" rings holding the palm and the thumb's
    base (33 palm columns + 11 thumb columns), then a Y split into the thumb tube and the palm
    (like the knuckles split into fingers), palm rings, the knuckle ring, four finger tubes.
    """
    m = _Mesh()
    flat = spec["flatten"]
    joints = spec["joints"]
    nf, half = _N_FINGER, (_N_FINGER - 2) // 2
    w = spec.get("width", 1.0)

    # Finger centre lines: joints 1-3 and the fingertip sphere centre.
    lines: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f in FINGERS:
        pts = _chain_points(spec, f)
        r = spec["radii"][f]
        centre = pts[3] - r[3] * _unit(pts[3] - pts[2])
        lines[f] = (np.vstack([pts[:3], centre[None]]), r)

    # Knuckle ring = each finger's ring 0 (palm columns), plus the side vertices between fingers.
    knuckle_pts = np.zeros((_N_PALM, 3))
    web_pts = []
    for i, f in enumerate(_PALM_FINGERS):
        pts, r = lines[f]
        d = _unit(_unit(pts[1] - pts[0]) + _unit(pts[0] - joints[0]))
        ring = _ring(pts[0], d, r[0], nf, flat)
        knuckle_pts[1 + half * i : 1 + half * (i + 1)] = ring[1 : 1 + half]
        knuckle_pts[_N_PALM - half * (i + 1) : _N_PALM - half * i] = ring[half + 2 :]
        if i == 0:
            knuckle_pts[0] = ring[0]
        else:
            web_pts.append(ring[0])
        if i == 3:
            knuckle_pts[half * 4 + 1] = ring[half + 1]
        else:
            web_pts.append(ring[half + 1])
    col_label = (["palm-index"] + [f"palm-{f}" for f in _PALM_FINGERS for _ in range(half)] + ["palm-pinky"]
                 + [f"palm-{f}" for f in reversed(_PALM_FINGERS) for _ in range(half)])  # fmt: skip

    # Merged rings: palm columns 1..33 then 11 thumb columns around the +z edge (palm side -> back).
    n_t = _N_THUMB - 1
    theta_t = _THUMB_SPAN
    palm_theta = np.concatenate(
        [
            np.linspace(theta_t, np.pi, 4 * half + 1, endpoint=False)[1:],  # back, +z -> -z (16)
            [np.pi],  # little-finger edge
            np.linspace(np.pi, 2 * np.pi - theta_t, 4 * half + 1, endpoint=False)[1:],  # palm side (16)
        ]
    )
    thumb_theta = np.linspace(-theta_t, theta_t, n_t + 2)[1:-1]
    merged_theta = np.concatenate([palm_theta, thumb_theta])
    merged_label = col_label[1:] + ["thumb"] * n_t
    merged_ids = []
    for x, hw, ht, bulge in _MERGED_RINGS:
        pos = _palm_section(spec, x, merged_theta, w * hw, ht)
        pos[len(palm_theta) :, 2] += bulge  # the thumb's base bulges out of the palm's edge
        pos[len(palm_theta) :, 1] -= 0.4 * bulge
        merged_ids.append([m.add(p, lab)[0] for p, lab in zip(pos, merged_label, strict=True)])
    m.smooth += [v for ids in merged_ids for v in ids]

    # Open wrist: a 16-vertex ring joined to the first merged ring.
    wc = np.array([joints[0, 0] + 0.0055, joints[0, 1], joints[0, 2]])
    phi = 2 * np.pi * np.arange(_N_WRIST) / _N_WRIST
    wrist_pts = wc + np.stack([np.zeros(_N_WRIST), 0.0125 * np.sin(phi), w * 0.0285 * np.cos(phi)], axis=1)
    wrist_ids = m.add(wrist_pts, "wrist")
    m.fixed = list(wrist_ids)
    axis = np.array([-1.0, 0.0, 0.0])
    first = np.array([m.verts[v] for v in merged_ids[0]])
    m.faces += _zip(wrist_ids, merged_ids[0], _angles(wrist_pts, wc, axis), _angles(first, wc, axis))
    for a, b in zip(merged_ids[:-1], merged_ids[1:], strict=True):
        m.faces += _quad_strip(a, b)

    # Y split into palm and thumb, with a web between them (two crotch vertices).
    branch = merged_ids[-1]
    p_cols, t_cols = branch[: len(palm_theta)], branch[len(palm_theta) :]
    crotch_palm = m.add(joints[0] + np.array(_CROTCH[0]), "palm-index")[0]
    crotch_thumb = m.add(joints[0] + np.array(_CROTCH[1]), "thumb")[0]
    m.smooth += [crotch_palm, crotch_thumb]
    m.faces += [(t_cols[-1], p_cols[0], crotch_palm), (t_cols[-1], crotch_palm, crotch_thumb),
                (crotch_thumb, crotch_palm, p_cols[-1]), (crotch_thumb, p_cols[-1], t_cols[0])]  # fmt: skip

    # Palm rings from the branch to the knuckles.
    x_b = _MERGED_RINGS[-1][0]
    branch_pts = _palm_section(spec, x_b, np.concatenate([[0.0], palm_theta]), w * _MERGED_RINGS[-1][1],
                               _MERGED_RINGS[-1][2])  # fmt: skip
    prev = [crotch_palm, *p_cols]
    for t in _PALM_T:
        blend = t**1.5
        pos = (1 - blend) * branch_pts + blend * knuckle_pts
        pos[:, 0] = (1 - t) * x_b + t * knuckle_pts[:, 0]
        ids = [m.add(pos[col], col_label[col])[0] for col in range(_N_PALM)]
        m.smooth += ids
        m.faces += _quad_strip(prev, ids)
        prev = ids
    knuckle_ids = [m.add(knuckle_pts[col], col_label[col])[0] for col in range(_N_PALM)]
    m.faces += _quad_strip(prev, knuckle_ids)

    # Finger tubes, and webs between neighbouring fingers.
    web_ids = [m.add(p, f)[0] for p, f in zip(web_pts, ("index", "middle", "middle", "ring", "ring", "pinky"),
                                                strict=True)]  # fmt: skip
    m.smooth += web_ids
    for i, f in enumerate(_PALM_FINGERS):
        side_plus = knuckle_ids[0] if i == 0 else web_ids[2 * i - 1]
        side_minus = knuckle_ids[4 * half + 1] if i == 3 else web_ids[2 * i]
        top = knuckle_ids[1 + half * i : 1 + half * (i + 1)]
        bottom = knuckle_ids[_N_PALM - half * (i + 1) : _N_PALM - half * i]
        _finger_tube(m, f, [side_plus, *top, side_minus, *bottom], True, lines[f], _FINGER_STATIONS, nf, flat)
    for i in range(3):
        t_i, t_n = knuckle_ids[half * (i + 1)], knuckle_ids[half * (i + 1) + 1]
        b_i, b_n = knuckle_ids[_N_PALM - half * (i + 1)], knuckle_ids[_N_PALM - half * (i + 1) - 1]
        w_i, w_n = web_ids[2 * i], web_ids[2 * i + 1]
        m.faces += [(t_i, t_n, w_n), (t_i, w_n, w_i), (w_i, w_n, b_n), (w_i, b_n, b_i)]

    # Thumb tube from its share of the branch ring.
    _finger_tube(m, "thumb", [*t_cols, crotch_thumb], False, lines["thumb"], _THUMB_STATIONS, _N_THUMB, 1.0)
    return m


def _finger_tube(m: _Mesh, f: str, ring0: list[int], aligned: bool, line: tuple[np.ndarray, np.ndarray],
                 stations: tuple[tuple[float, ...], ...], n: int, flat: float) -> None:  # fmt: skip
    """Rings along a finger from ring0 (already in the mesh; `aligned` if it is laid out like the
    other rings), a round cap and the tip vertex."""
    pts, radii = line
    prev = ring0
    prev_pts = np.array([m.verts[v] for v in ring0])
    for seg, fracs in enumerate(stations):
        for frac in fracs:
            centre, d, rad = _station(pts, radii, seg, frac)
            ring_pts = _ring(centre, d, rad, n, flat)
            if prev is ring0 and not aligned:  # rotate ring0 to line up with this ring
                ang0, ang1 = _angles(prev_pts, centre, d), _angles(ring_pts, centre, d)
                cost = [np.abs(np.angle(np.exp(1j * (np.roll(ang0, -k) - ang1)))).sum() for k in range(n)]
                shift = int(np.argmin(cost))
                prev = prev[shift:] + prev[:shift]
            ids = m.add(ring_pts, f)
            m.faces += _quad_strip(prev, ids)
            prev, prev_pts = ids, ring_pts
    d_tip = _unit(pts[3] - pts[2])
    r_tip = radii[3]
    cap_n = _CAP_COUNT[f]
    cap_centre = pts[3] + r_tip * np.sin(_CAP_LATITUDE) * d_tip
    cap_pts = _ring(cap_centre, d_tip, r_tip * np.cos(_CAP_LATITUDE), cap_n, flat)
    cap = m.add(cap_pts, f)
    if cap_n == n:
        m.faces += _quad_strip(prev, cap)
    else:
        m.faces += _zip(prev, cap, _angles(prev_pts, pts[3], d_tip), _angles(cap_pts, pts[3], d_tip))
    tip = m.add(pts[3] + r_tip * d_tip, f)[0]
    m.faces += [(cap[j], cap[(j + 1) % cap_n], tip) for j in range(cap_n)]
    m.tips[f] = tip


def _vertex_permutation(m: _Mesh) -> np.ndarray:
    """order[new_id] = old_id, putting the fingertip vertices at FreiHAND's ids."""
    targets = sorted((TIP_VERTEX_IDS[f], m.tips[f]) for f in FINGERS)
    tip_old = {old for _, old in targets}
    rest = [v for v in range(len(m.verts)) if v not in tip_old]
    order = list(rest)
    for new, old in targets:
        order.insert(new, old)
    return np.asarray(order)


def _umbrella(faces: np.ndarray, n: int) -> sp.csr_matrix:
    """Row-normalised vertex adjacency (uniform Laplacian averaging operator)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    return sp.diags(1.0 / deg) @ adj


def _relaxed_layout(spec: dict[str, Any]) -> tuple[_Mesh, np.ndarray]:
    """The layout for `spec` with its vertices pulled onto the implicit surface (original ids)."""
    m = _layout(spec)
    verts = np.asarray(m.verts, dtype=np.float64)
    faces = np.asarray(m.faces, dtype=np.int64)
    surface = _HandSurface(spec)
    movable = np.ones(len(verts), dtype=bool)
    movable[m.fixed] = False
    verts[movable] = surface.project(verts[movable])
    smooth = np.asarray(m.smooth)
    avg = _umbrella(faces, len(verts))[smooth]
    for _ in range(_RELAX_ITERS):
        p = verts[smooth]
        g = _unit(surface.gradient(p))
        lap = avg @ verts - p
        lap -= (lap * g).sum(1, keepdims=True) * g
        verts[smooth] = surface.project(p + 0.5 * lap, steps=2)
    wrist = spec["joints"][0]
    return m, wrist + spec["scale"] * (verts - wrist)


def _build_mesh(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vertices (778, 3) and faces (1538, 3) of the rest hand with shape `beta`, plus vertex labels
    (tip ids already permuted into place)."""
    m, verts = _relaxed_layout(_shaped_spec(beta))
    faces = np.asarray(m.faces, dtype=np.int64)
    order = _vertex_permutation(m)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return verts[order], inverse[faces], [m.finger[i] for i in order]


# ----------------------------------------------------------------------------------------------
# Rigging: joint regressor, skinning weights, pose correctives, pose prior.


def _smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(0.5 * (x + 1.0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


_BLEND = (0.009, 0.005, 0.004)  # half-widths (m) of the skinning blend at joints 1, 2, 3 of a finger
_BLEND_THUMB = (0.012, 0.006, 0.005)
_WEIGHT_SMOOTHING = 3  # diffusion steps over the mesh after the per-finger blend


def _chain_blends(verts: np.ndarray, finger: str, joints: np.ndarray) -> np.ndarray:
    """Per-vertex blend factors (V, 3) across joints 1, 2, 3 of a finger: 0 before, 1 after."""
    j1, j2, j3 = CHAINS[finger]
    tip = joints[j3] + _TIP_LENGTH[finger] * _unit(joints[j3] - joints[j2])
    pts = np.vstack([joints[[0, j1, j2, j3]], tip[None]])
    dirs = _unit(np.diff(pts, axis=0))  # wrist->1, 1->2, 2->3, 3->tip
    widths = _BLEND_THUMB if finger == "thumb" else _BLEND
    out = np.empty((len(verts), 3))
    for k in range(3):
        normal = _unit(dirs[k] + dirs[k + 1])
        out[:, k] = _smoothstep((verts - pts[k + 1]) @ normal / widths[k])
    return out


def _finger_of(label: str) -> str | None:
    if label.startswith("palm-"):
        return label[5:]
    return label if label in CHAINS else None


def _skinning_weights(verts: np.ndarray, labels: list[str], joints: np.ndarray) -> np.ndarray:
    """(V, 16) weights; each vertex blends wrist -> joint 1 -> 2 -> 3 of its finger."""
    weights = np.zeros((len(verts), 16))
    weights[:, 0] = 1.0
    owner = np.array([_finger_of(lab) or "" for lab in labels])
    for f, (j1, j2, j3) in CHAINS.items():
        sel = owner == f
        s = _chain_blends(verts[sel], f, joints)
        weights[sel, 0] = 1 - s[:, 0]
        weights[sel, j1] = s[:, 0] * (1 - s[:, 1])
        weights[sel, j2] = s[:, 0] * s[:, 1] * (1 - s[:, 2])
        weights[sel, j3] = s[:, 0] * s[:, 1] * s[:, 2]
    return weights


def _smooth_weights(weights: np.ndarray, faces: np.ndarray, iterations: int = _WEIGHT_SMOOTHING) -> np.ndarray:
    """Diffuse skinning weights around the palm seams (half-step umbrella averaging); rows keep summing to 1.

    Only vertices the wrist bone influences, and their neighbours, move: that softens the seams where
    the construction labels switch owner (thumb-index web, finger webs) so no edge jumps from one
    bone to another, while the phalanges keep their rigid, fully weighted middles.
    """
    avg = _umbrella(np.asarray(faces, dtype=np.int64), len(weights))
    near_palm = weights[:, 0] > 0.01
    near_palm |= (avg @ near_palm.astype(np.float64)) > 0
    weights = weights.copy()
    for _ in range(iterations):
        weights[near_palm] = 0.5 * weights[near_palm] + 0.5 * (avg @ weights)[near_palm]
    return weights / weights.sum(axis=1, keepdims=True)


def _convex_weights(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Weights w >= 0, sum 1, with points.T @ w = target, as close to uniform as possible."""
    from scipy.optimize import minimize

    k = len(points)
    rel = (points - target) * 100.0  # centimetres, for conditioning
    a_eq = np.vstack([rel.T, np.ones((1, k))])
    b_eq = np.array([0.0, 0.0, 0.0, 1.0])
    prior = np.full(k, 1.0 / k)
    res = minimize(
        lambda w: float(((w - prior) ** 2).sum()),
        prior,
        jac=lambda w: 2 * (w - prior),
        constraints=[{"type": "eq", "fun": lambda w: a_eq @ w - b_eq, "jac": lambda w: a_eq}],
        bounds=[(0.0, 1.0)] * k,
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 500},
    )
    w = np.clip(res.x, 0.0, None)
    w[w < 1e-6] = 0.0
    return w / w.sum()


def _joint_regressor(verts: np.ndarray, labels: list[str], joints: np.ndarray) -> sp.csc_matrix:
    """(16, V) sparse rows: convex combinations of the vertices around each joint."""
    owner = np.array([_finger_of(lab) or lab for lab in labels])
    rows = np.zeros((16, len(verts)))
    for j in range(16):
        if j == 0:
            cand, k = np.arange(len(verts)), 32
        else:
            f = next(name for name, chain in CHAINS.items() if j in chain)
            cand = np.where(owner == f)[0] if j != 13 else np.arange(len(verts))
            k = 20 if j not in (1, 4, 7, 10, 13) else 28
        near = cand[np.argsort(np.linalg.norm(verts[cand] - joints[j], axis=1))[:k]]
        rows[j, near] = _convex_weights(verts[near], joints[j])
    return sp.csc_matrix(rows)


def _pose_correctives(verts: np.ndarray, faces: np.ndarray, labels: list[str], joints: np.ndarray) -> np.ndarray:
    """(V, 3, 135) small outward bulge at flexing joints: offset c * (1 - cos angle) along the normal."""
    import trimesh

    normals = trimesh.Trimesh(verts, faces, process=False).vertex_normals
    posedirs = np.zeros((len(verts), 3, 135))
    owner = np.array([_finger_of(lab) or "" for lab in labels])
    bulge = 0.0012  # metres at a right angle
    for f, chain in CHAINS.items():
        sel = np.where(owner == f)[0]
        s = _chain_blends(verts[sel], f, joints)
        for k, j in enumerate(chain):
            g = 4.0 * s[:, k] * (1.0 - s[:, k])  # 1 on the joint plane, 0 away from it
            for d in (0, 4, 8):  # diagonal of (R - I): sums to 2 (cos angle - 1)
                posedirs[sel, :, 9 * (j - 1) + d] = -0.5 * bulge * g[:, None] * normals[sel]
    return posedirs


def _flexion_axes(joints: np.ndarray) -> np.ndarray:
    """(15, 3) unit axes about which each finger joint flexes (toward the palm, -y)."""
    axes = np.zeros((15, 3))
    for f, chain in CHAINS.items():
        tip = joints[chain[2]] + _unit(joints[chain[2]] - joints[chain[1]])
        pts = np.vstack([joints[list(chain)], tip[None]])
        for k, j in enumerate(chain):
            d = _unit(pts[k + 1] - pts[k])
            toward = np.array([0.0, -1.0, 0.0])  # fingers flex toward the palm (-y) ...
            if f == "thumb":  # ... the thumb, pronated, toward the palm and the fingers
                toward = _unit(0.65 * toward + 0.76 * _unit(np.array([-d[2], 0.0, d[0]])))
            axes[j - 1] = _unit(np.cross(d, toward))
    return axes


def _pose_vector(joints: np.ndarray, curl: dict[str, tuple[float, float, float]],
                 spread: dict[str, float] | None = None, thumb_twist: float = 0.0) -> np.ndarray:  # fmt: skip
    """A (45,) axis-angle hand pose from per-finger flexion angles, spread and thumb twist."""
    axes = _flexion_axes(joints)
    pose = np.zeros((15, 3))
    for f, angles in curl.items():
        for k, j in enumerate(CHAINS[f]):
            pose[j - 1] += angles[k] * axes[j - 1]
    for f, angle in (spread or {}).items():
        pose[CHAINS[f][0] - 1, 1] += angle  # about +y: toward the thumb side (+z)
    if thumb_twist:
        pose[12] += thumb_twist * _unit(joints[14] - joints[13])
    return pose.ravel()


def _hands_mean(joints: np.ndarray) -> np.ndarray:
    """A relaxed hand: a few tenths of a radian of flexion at each joint, fingers a little closer."""
    curl = {"index": (0.10, 0.28, 0.14), "middle": (0.16, 0.36, 0.16), "ring": (0.22, 0.40, 0.18),
            "pinky": (0.28, 0.44, 0.20), "thumb": (0.20, 0.18, 0.22)}  # fmt: skip
    spread = {"index": -0.06, "ring": 0.04, "pinky": 0.10, "thumb": -0.1}
    return _pose_vector(joints, curl, spread, thumb_twist=0.15)


def _hands_components(joints: np.ndarray) -> np.ndarray:
    """(45, 45) orthonormal rows; the first ones are grasp synergies, the rest complete the basis."""
    fingers = ("index", "middle", "ring", "pinky")
    synergies = [
        _pose_vector(joints, {f: (0.8, 1.0, 0.6) for f in fingers} | {"thumb": (0.3, 0.4, 0.5)}),  # power curl
        _pose_vector(joints, {}, {"index": 1.0, "middle": 0.2, "ring": -0.6, "pinky": -1.2, "thumb": 0.6}),  # spread
        _pose_vector(joints, {"thumb": (0.8, 0.5, 0.6)}, thumb_twist=0.6),  # thumb opposition
        _pose_vector(joints, {"index": (-0.8, -1.0, -0.6)} | {f: (0.6, 0.8, 0.5) for f in fingers[1:]}),  # point
        _pose_vector(joints, {f: (-0.8, 1.0, 0.8) for f in fingers}),  # hook: MCP out, PIP/DIP in
        _pose_vector(joints, {"index": (0.6, 0.6, 0.4), "thumb": (0.5, 0.5, 0.5)}),  # pinch
        _pose_vector(joints, {"ring": (0.8, 1.0, 0.6), "pinky": (1.0, 1.0, 0.6), "index": (-0.3, -0.3, 0)}),  # ulnar
    ]
    basis: list[np.ndarray] = []
    for v in [*synergies, *np.eye(45)]:
        for b in basis:
            v = v - (v @ b) * b
        if np.linalg.norm(v) > 1e-6:
            basis.append(v / np.linalg.norm(v))
        if len(basis) == 45:
            break
    return np.asarray(basis)


def _hands_coeffs(n: int = 100) -> np.ndarray:
    """(n, 45) sample PCA coefficients (seeded), variance falling with the component index."""
    rng = np.random.default_rng(20240611)
    std = 0.8 * np.exp(-np.arange(45) / 6.0)
    return rng.normal(size=(n, 45)) * std


_CLOSED = (1.5, 1.7, 1.0)  # a finger curled into the palm
# name -> (per-finger flexion, spread, thumb twist); thumb values fitted so the tip lands where named.
_NAMED_POSES: dict[str, tuple[dict[str, tuple[float, float, float]], dict[str, float], float]] = {
    "fist": ({"index": _CLOSED, "middle": _CLOSED, "ring": _CLOSED, "pinky": _CLOSED, "thumb": (0.29, 0.2, 0.11)},
             {"thumb": -0.35}, -0.17),  # thumb tip over the index and middle middle phalanges
    "point": ({"index": (0.0, 0.05, 0.05), "middle": _CLOSED, "ring": _CLOSED, "pinky": _CLOSED,
               "thumb": (0.46, 0.32, 0.2)}, {"thumb": -0.41}, -0.33),  # thumb over the curled middle finger
    "pinch": ({"index": (0.75, 1.01, 0.73), "middle": (0.3, 0.35, 0.2), "ring": (0.35, 0.4, 0.2),
               "pinky": (0.4, 0.45, 0.2), "thumb": (0.58, 0.19, 0.0)}, {"thumb": -0.2}, 0.13),  # tips meet
}  # fmt: skip
POSE_NAMES = ("flat", "relaxed", *_NAMED_POSES)


def standin_pose(name: str, side: str = "right") -> np.ndarray:
    """A named (45,) ABSOLUTE axis-angle finger pose for the stand-in (use `flat_hand_mean=True`).

    Names: "flat" (zeros), "relaxed" (`hands_mean`), "fist", "point", "pinch". Left hands get the
    mirrored pose. Made for pictures and tests of the stand-in, in the same canonical frame as MANO.
    """
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    joints = MANO_RIGHT_REST_JOINTS
    if name == "flat":
        pose = np.zeros(45)
    elif name == "relaxed":
        pose = _hands_mean(joints)
    elif name in _NAMED_POSES:
        curl, spread, twist = _NAMED_POSES[name]
        pose = _pose_vector(joints, curl, spread, thumb_twist=twist)
    else:
        raise ValueError(f"unknown stand-in pose {name!r}; choose from {POSE_NAMES}")
    return pose * np.tile([1.0, -1.0, -1.0], 15) if side == "left" else pose


# ----------------------------------------------------------------------------------------------
# Assembly, mirroring, files.


@lru_cache(maxsize=1)
def _right_model() -> dict[str, Any]:
    zero = np.zeros(len(SHAPE_NAMES))
    verts, faces, labels = _build_mesh(zero)
    shapedirs = np.zeros((len(verts), 3, len(SHAPE_NAMES)))
    for k in range(len(SHAPE_NAMES)):
        step = np.zeros(len(SHAPE_NAMES))
        step[k] = _FD_STEP
        shapedirs[:, :, k] = (_build_mesh(step)[0] - _build_mesh(-step)[0]) / (2 * _FD_STEP)
    joints = MANO_RIGHT_REST_JOINTS
    j_reg = _joint_regressor(verts, labels, joints)
    return {
        "v_template": verts,
        "f": faces.astype(np.uint32),
        "J_regressor": j_reg,
        "weights": _smooth_weights(_skinning_weights(verts, labels, joints), faces),
        "posedirs": _pose_correctives(verts, faces, labels, joints),
        "shapedirs": shapedirs,
        "kintree_table": np.array([_PARENTS, np.arange(16)], dtype=np.int64),
        "hands_components": _hands_components(joints),
        "hands_mean": _hands_mean(joints),
        "hands_coeffs": _hands_coeffs(),
        "J": np.asarray(j_reg @ verts),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "handmesh_standin": True,
    }


def _mirror(model: dict[str, Any]) -> dict[str, Any]:
    """The left hand: the right one mirrored across x (x -> -x), face winding reversed."""
    flip = np.array([-1.0, 1.0, 1.0])
    out = dict(model)
    out["v_template"] = model["v_template"] * flip
    out["J"] = model["J"] * flip
    out["f"] = model["f"][:, [0, 2, 1]].copy()
    out["shapedirs"] = model["shapedirs"] * flip[None, :, None]
    # (R - I) of a mirrored rotation is M (R - I) M: element (a, b) changes sign by flip[a] * flip[b].
    feature_sign = np.tile(np.outer(flip, flip).ravel(), 15)
    out["posedirs"] = model["posedirs"] * flip[None, :, None] * feature_sign[None, None, :]
    aa = np.tile(np.array([1.0, -1.0, -1.0]), 15)  # axis-angle (a, b, c) -> (a, -b, -c)
    out["hands_mean"] = model["hands_mean"] * aa
    out["hands_components"] = model["hands_components"] * aa[None, :]
    return out


def build_standin(side: str = "right") -> dict[str, Any]:
    """The stand-in hand model as a dict in the MANO v1.2 pickle layout (plus `handmesh_standin`).

    Deterministic; the arrays are fresh copies on every call.
    """
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    model = _right_model() if side == "right" else _mirror(_right_model())
    return copy.deepcopy(model)


def default_standin_path(side: str = "right") -> Path:
    """Where the demo keeps the stand-in for `side`."""
    return DEFAULT_STANDIN_PATH if side == "right" else DEFAULT_STANDIN_LEFT_PATH


def write_standin(path: str | Path | None = None, side: str = "right") -> Path:
    """Pickle the stand-in (protocol 2, numpy and scipy.sparse only) to `path`; returns the path."""
    path = Path(path) if path is not None else default_standin_path(side)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        pickle.dump(build_standin(side), fh, protocol=2)
    log.info("wrote procedural STAND-IN hand model (not MANO), %s hand, to %s", side, path)
    return path


def ensure_standin(path: str | Path | None = None, side: str = "right") -> Path:
    """Write the stand-in to `path` (default `data/mano/standin_MANO_<SIDE>.pkl`) unless it exists."""
    path = Path(path) if path is not None else default_standin_path(side)
    if not path.is_file():
        write_standin(path, side)
    return path


def main(argv: list[str] | None = None) -> Path:
    """CLI: write the stand-in model file."""
    parser = argparse.ArgumentParser(
        prog="python -m handmesh.mano.standin",
        description="Write the procedural STAND-IN hand model (not MANO) in the MANO v1.2 pickle layout.",
    )
    parser.add_argument("--side", choices=("right", "left"), default="right")
    parser.add_argument("--out", type=Path, default=None,
                        help="output .pkl (default: data/mano/standin_MANO_RIGHT.pkl or _LEFT.pkl)")  # fmt: skip
    args = parser.parse_args(argv)
    path = write_standin(args.out, args.side)
    print(f"wrote a procedural STAND-IN hand model (not MANO), {args.side} hand: {path}")
    return path


if __name__ == "__main__":
    main()
