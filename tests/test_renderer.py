"""The offscreen renderer: masks and depth agree with a projected known mesh under a given K; one GL context
reused; colours and lights settable; not imported by model code."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from raster import boundary_band, iou, project, rasterize

from handmesh.render.renderer import Light, Material, Renderer, RendererError, _import_pyrender

# A non-square image and an off-centre principal point with fx != fy: any axis or half-pixel slip shows.
SIZE = (200, 150)  # (width, height)
K = np.array([[310.0, 0.0, 93.3], [0.0, 290.0, 81.7], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with Renderer() as r:
        yield r


def _quad(corners_uv: np.ndarray, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """A fronto-parallel quad (4, 3) at `depth` whose corners project to `corners_uv` (4, 2); faces (2, 3)."""
    xy = (corners_uv - K[:2, 2]) / np.diag(K)[:2] * depth
    return np.c_[xy, np.full(4, depth)], np.array([[0, 1, 2], [0, 2, 3]])


@pytest.fixture(scope="module")
def hand_mesh(hand_model) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in hand, bent and turned, 0.5 m in front of the camera: vertices (778, 3), faces (F, 3)."""
    g = torch.tensor([[0.3, -2.6, 0.4]], dtype=torch.float64)
    pose = torch.linspace(-0.4, 0.6, 45, dtype=torch.float64)[None]
    out = hand_model(g, pose, transl=torch.zeros(1, 3, dtype=torch.float64))
    verts = out.vertices[0].numpy()
    verts = verts - verts.mean(axis=0) + np.array([0.01, -0.005, 0.5])
    return verts, hand_model.faces.numpy()


def test_mask_matches_projected_mesh(renderer: Renderer, hand_mesh) -> None:
    verts, faces = hand_mesh
    out = renderer.render(verts, faces, K, SIZE)
    assert out.mask.shape == out.depth.shape == out.alpha.shape == (SIZE[1], SIZE[0]) and out.rgb.shape[2] == 3
    exact = rasterize(project(verts, K), faces, SIZE)
    assert exact.sum() > 2000
    assert iou(out.mask, exact) > 0.98
    assert not ((out.mask ^ exact) & ~boundary_band(exact)).any()  # differences only on edge pixels
    centroids = [np.argwhere(m).mean(axis=0) for m in (out.mask, exact)]
    assert np.abs(centroids[0] - centroids[1]).max() < 0.25  # no (half-)pixel shift in either axis


@pytest.mark.parametrize("edge", [0.3, 0.7])
def test_quad_edges_land_on_pixel_centres(renderer: Renderer, edge: float) -> None:
    """Pixel (x, y) is covered when its centre (x, y) is inside: a quad from 20+e to 60+e covers 21..60."""
    corners = np.array([[20, 30], [60, 30], [60, 70], [20, 70]], dtype=np.float64) + edge
    verts, faces = _quad(corners, 0.8)
    mask = renderer.render(verts, faces, K, SIZE).mask
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (21, 60, 31, 70)


def test_depth_agrees_with_geometry(renderer: Renderer, hand_mesh) -> None:
    verts, faces = _quad(np.array([[10, 10], [150, 10], [150, 120], [10, 120]], dtype=np.float64), 0.73)
    out = renderer.render(verts, faces, K, SIZE)
    assert np.allclose(out.depth[out.mask], 0.73, atol=1e-4) and (out.depth[~out.mask] == 0).all()
    # a tilted plane z = 0.6 + 0.2 x: depth at pixel centre (u, v) is where the ray K^-1 (u, v, 1) meets it
    corners = np.array([[-0.1, -0.08], [0.1, -0.08], [0.1, 0.08], [-0.1, 0.08]])
    tilted = np.c_[corners, 0.6 + 0.2 * corners[:, 0]]
    out = renderer.render(tilted, faces, K, SIZE)
    v, u = np.nonzero(out.mask)
    rays = np.linalg.solve(K, np.stack([u, v, np.ones_like(u)]).astype(np.float64))  # (3, N), z = 1
    z = 0.6 / (1.0 - 0.2 * rays[0])
    assert np.abs(out.depth[v, u] - z).max() < 2e-3  # depth is one sample of the pixel (off-centre by < 1/2 px)
    hand_verts, hand_faces = hand_mesh
    hand = renderer.render(hand_verts, hand_faces, K, SIZE)
    d = hand.depth[hand.mask]
    assert (d > 0).all() and d.min() >= hand_verts[:, 2].min() - 1e-4 and d.max() <= hand_verts[:, 2].max() + 1e-4


def test_one_context_reused_across_calls_and_sizes(renderer: Renderer, hand_mesh) -> None:
    verts, faces = hand_mesh
    renderer.render(verts, faces, K, SIZE)  # another renderer is open meanwhile
    with Renderer() as r:
        for size in (SIZE, SIZE, (96, 64), SIZE):
            out = r.render(verts, faces, K, size)
            assert out.mask.shape == (size[1], size[0])
        r.lights = (Light("point", position=(0.0, 0.0, 0.0), intensity=2.0),)
        r.material = Material(base_color=(0.2, 0.4, 0.9, 1.0))
        r.render(verts, faces, K, SIZE)
        assert r.contexts_created == 1
    assert r._offscreen is None  # closed by the context manager
    assert renderer.render(verts, faces, K, SIZE).mask.any()  # closing one renderer leaves the others working


def test_colours_and_lights_are_settable(renderer: Renderer, hand_mesh) -> None:
    verts, faces = hand_mesh
    red = renderer.render(verts, faces, K, SIZE, material=Material(base_color=(0.9, 0.1, 0.1, 1.0)))
    channel_means = red.rgb[red.mask].mean(axis=0)
    assert channel_means[0] > 2 * channel_means[1] and channel_means[0] > 2 * channel_means[2]
    colours = np.tile(np.array([[0, 255, 0, 255]], np.uint8), (len(verts), 1))
    green = renderer.render(verts, faces, K, SIZE, vertex_colors=colours, bg_color=(0.0, 0.0, 1.0))
    g = green.rgb[green.mask].mean(axis=0)
    assert g[1] > 2 * g[0] and g[1] > 2 * g[2]
    outside = green.rgb[~green.mask & (green.alpha == 0)]
    assert (outside[:, 2] > 250).all() and (outside[:, :2] < 5).all()  # the background colour
    with Renderer(lights=(Light(intensity=0.5),), ambient=(0.0, 0.0, 0.0)) as r:
        dim = r.render(verts, faces, K, SIZE).rgb[red.mask].mean()
        r.lights = (Light(intensity=6.0),)
        bright = r.render(verts, faces, K, SIZE).rgb[red.mask].mean()
    assert bright > dim + 30


def test_overlay(renderer: Renderer, hand_mesh) -> None:
    verts, faces = hand_mesh
    image = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
    out = renderer.overlay(image, verts, faces, K, alpha=1.0)
    mask = renderer.render(verts, faces, K, SIZE).mask
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out[~boundary_band(mask) & ~mask] == 40).all()  # untouched away from the mesh
    assert np.abs(out[mask].astype(int) - 40).mean() > 40  # the mesh is drawn
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        renderer.overlay(image[..., 0], verts, faces, K)


def test_bad_arguments(renderer: Renderer) -> None:
    triangle = (np.eye(3) + [0.0, 0.0, 1.0], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="K must be"):
        renderer.render(*triangle, np.eye(4), SIZE)
    with pytest.raises(ValueError, match="vertices must be"):
        renderer.render(np.zeros((3, 2)), triangle[1], K, SIZE)
    lights = renderer.lights
    renderer.lights = (Light("spot"),)
    try:
        with pytest.raises(ValueError, match="light kind"):
            renderer.render(*triangle, K, SIZE)
    finally:
        renderer.lights = lights
    other = "osmesa" if os.environ.get("PYOPENGL_PLATFORM") != "osmesa" else "egl"
    with pytest.raises(RendererError, match="cannot switch"):  # PyOpenGL is already imported with the other one
        _import_pyrender(other)


def test_model_code_does_not_import_the_renderer() -> None:
    """The LightningModule (and the data pipeline) must not pull in pyrender/OpenGL at import time."""
    code = (
        "import sys, handmesh.lightning_module, handmesh.data.datamodule, handmesh.data.freihand;"
        "bad = [m for m in sys.modules if m.startswith(('handmesh.render', 'pyrender', 'OpenGL'))];"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
