"""Offscreen mesh rendering with pyrender, headless through EGL (or OSMesa).

Meshes come in the OpenCV camera frame (x right, y down, z forward, metres) with pinhole
intrinsics K in pixels, exactly like FreiHAND's annotations. pyrender uses the OpenGL convention
(y up, looking down -z), so vertices are rotated 180 degrees about x before rendering, and the
principal point is shifted by half a pixel so that a point projecting to (u, v) with
`uv = K @ X / Z` lands in pixel column u, row v (OpenCV: pixel centres at integer coordinates).

Coverage: pyrender draws into a 4x multisampled framebuffer. The colour (and its alpha) is the
average of the 4 samples, centred on the pixel centre; the depth buffer, which cannot be averaged,
is resolved by taking ONE sample, which sits off the pixel centre (on Mesa by (-0.125, +0.375) px).
So the mask is the alpha coverage (>= 2 of 4 samples, which matches "pixel centre inside the
projected mesh"), not `depth > 0`; depth is made to agree with it.

One `Renderer` holds one GL context (`pyrender.OffscreenRenderer`), created on first use and
resized only when the image size changes; reuse it across calls and `close()` it (or use it as a
context manager). Nothing here is imported by model code: import `handmesh.render` only where
pictures are made.

Platform: `PYOPENGL_PLATFORM` is set to "egl" unless already set; pass `platform="osmesa"` (or set
`PYOPENGL_PLATFORM=osmesa`) for Mesa's software renderer. The choice must be made before pyrender
(PyOpenGL) is first imported in the process.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

EGL_HELP = (
    "Headless rendering needs EGL (Mesa works without a GPU). On Debian/Ubuntu install it with: "
    "sudo apt-get install libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri  "
    "(or use the software renderer: PYOPENGL_PLATFORM=osmesa with libosmesa6)."
)

# OpenCV camera frame -> OpenGL camera frame: rotate 180 degrees about x.
_CV_TO_GL = np.array([1.0, -1.0, -1.0])


class RendererError(RuntimeError):
    """The offscreen renderer could not be created (missing EGL/OSMesa libraries, wrong platform)."""


@dataclass(frozen=True)
class Light:
    """A light in the OpenCV camera frame.

    kind: "directional" (shines along `direction`) or "point" (at `position`, metres).
    """

    kind: str = "directional"
    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 3.0


@dataclass(frozen=True)
class Material:
    """Physically based material: RGBA base colour in [0, 1], metallic and roughness factors."""

    base_color: tuple[float, float, float, float] = (0.85, 0.68, 0.58, 1.0)
    metallic: float = 0.0
    roughness: float = 0.55


DEFAULT_LIGHTS: tuple[Light, ...] = (
    Light("directional", direction=(0.3, 0.6, 1.0), intensity=2.6),  # key: from above-left of the camera
    Light("directional", direction=(-0.6, -0.2, 1.0), intensity=1.2),  # fill
    Light("directional", direction=(0.0, -0.4, -1.0), intensity=1.0),  # rim, from behind
)


@dataclass
class RenderResult:
    """What `Renderer.render` returns.

    rgb (H, W, 3) uint8: anti-aliased, so edge pixels are blended with the background colour (with a black
    background, rgb is premultiplied by `alpha`); depth (H, W) float32 metres, 0 where `mask` is False;
    mask (H, W) bool: pixel centre covered by the mesh; alpha (H, W) float32 in [0, 1]: fraction of the pixel
    covered (anti-aliased coverage, for compositing).
    """

    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    extra: dict[str, Any] = field(default_factory=dict)


def _import_pyrender(platform: str | None) -> Any:
    """Import pyrender for `platform` ("egl" / "osmesa"), with a clear error when it cannot work."""
    if platform is not None:
        if "OpenGL" in sys.modules and os.environ.get("PYOPENGL_PLATFORM") != platform:
            raise RendererError(
                f"cannot switch to PYOPENGL_PLATFORM={platform!r}: PyOpenGL was already imported with "
                f"{os.environ.get('PYOPENGL_PLATFORM')!r}; set the variable before anything imports pyrender"
            )
        os.environ["PYOPENGL_PLATFORM"] = platform
    try:
        import pyrender
    except Exception as exc:  # PyOpenGL raises several types when the GL library is missing
        raise RendererError(f"could not import pyrender ({exc}). {EGL_HELP}") from exc
    return pyrender


class Renderer:
    """Reusable offscreen renderer for meshes in the OpenCV camera frame.

    Args:
        lights: lights in the camera frame (default: key, fill and rim directional lights).
        material: default material for `render` calls that give neither colour nor material.
        bg_color: background RGB in [0, 1].
        ambient: ambient light RGB in [0, 1].
        znear, zfar: clipping planes in metres.
        platform: "egl" (default) or "osmesa"; None keeps `PYOPENGL_PLATFORM`.
    """

    def __init__(
        self,
        lights: tuple[Light, ...] | list[Light] = DEFAULT_LIGHTS,
        material: Material | None = None,
        bg_color: tuple[float, float, float] = (1.0, 1.0, 1.0),
        ambient: tuple[float, float, float] = (0.25, 0.25, 0.25),
        znear: float = 0.01,
        zfar: float = 100.0,
        platform: str | None = None,
    ) -> None:
        self.lights = tuple(lights)
        self.material = material or Material()
        self.bg_color = tuple(bg_color)
        self.ambient = tuple(ambient)
        self.znear, self.zfar = znear, zfar
        self.platform = platform
        self._pyrender: Any = None
        self._offscreen: Any = None
        self._size: tuple[int, int] | None = None
        self.contexts_created = 0  # how many GL contexts this object made (1 when reused properly)

    _open_contexts = 0  # GL contexts open in this process, all renderers together

    # -- GL context ------------------------------------------------------------------------------

    def _context(self, width: int, height: int) -> Any:
        if self._pyrender is None:
            self._pyrender = _import_pyrender(self.platform)
        if self._offscreen is None:
            try:
                self._offscreen = self._pyrender.OffscreenRenderer(width, height)
            except Exception as exc:  # EGL/OSMesa failures surface as various exception types
                platform = os.environ.get("PYOPENGL_PLATFORM")
                raise RendererError(
                    f"could not create an offscreen GL context with PYOPENGL_PLATFORM={platform} ({exc}). {EGL_HELP}"
                ) from exc
            self.contexts_created += 1
            Renderer._open_contexts += 1
        elif self._size != (width, height):
            self._offscreen.viewport_width, self._offscreen.viewport_height = width, height
        self._size = (width, height)
        return self._offscreen

    def close(self) -> None:
        """Release the GL context (safe to call twice). Other renderers of the process keep working."""
        if self._offscreen is not None:
            Renderer._open_contexts -= 1
            _delete_offscreen(self._offscreen, last=Renderer._open_contexts == 0)
            self._offscreen = None
            self._size = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; prefer close()
        try:
            self.close()
        except Exception:
            pass

    # -- scene -----------------------------------------------------------------------------------

    def _light_nodes(self, pyrender: Any) -> list[tuple[Any, np.ndarray]]:
        nodes = []
        for light in self.lights:
            pose = np.eye(4)
            if light.kind == "directional":
                # pyrender lights shine along their local -z axis.
                d = np.asarray(light.direction, dtype=np.float64) * _CV_TO_GL
                z = -d / np.linalg.norm(d)
                helper = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
                x = np.cross(helper, z)
                x /= np.linalg.norm(x)
                pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
                obj = pyrender.DirectionalLight(color=light.color, intensity=light.intensity)
            elif light.kind == "point":
                pose[:3, 3] = np.asarray(light.position, dtype=np.float64) * _CV_TO_GL
                obj = pyrender.PointLight(color=light.color, intensity=light.intensity)
            else:
                raise ValueError(f"light kind must be 'directional' or 'point', got {light.kind!r}")
            nodes.append((obj, pose))
        return nodes

    def render(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        K: np.ndarray,
        size: tuple[int, int],
        vertex_colors: np.ndarray | None = None,
        material: Material | None = None,
        bg_color: tuple[float, float, float] | None = None,
        smooth: bool = True,
    ) -> RenderResult:
        """Render one mesh.

        Args:
            vertices: (V, 3) metres, OpenCV camera frame (z > 0 in front of the camera).
            faces: (F, 3) vertex ids, counter-clockwise seen from outside.
            K: (3, 3) intrinsics in pixels.
            size: (width, height) of the image in pixels.
            vertex_colors: optional (V, 3) or (V, 4), floats in [0, 1] or uint8.
            material: overrides the renderer's default material.
            bg_color: overrides the renderer's background colour.
            smooth: smooth (per-vertex normal) shading.
        """
        vertices = np.asarray(vertices, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        K = np.asarray(K, dtype=np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f"vertices must be (V, 3) and faces (F, 3), got {vertices.shape} and {faces.shape}")
        if K.shape != (3, 3):
            raise ValueError(f"K must be (3, 3), got {K.shape}")
        width, height = (int(s) for s in size)
        offscreen = self._context(width, height)
        pyrender = self._pyrender

        import trimesh

        verts_gl = vertices * _CV_TO_GL
        normals = trimesh.Trimesh(verts_gl, faces, process=False).vertex_normals if smooth else None
        colors = None
        if vertex_colors is not None:
            colors = np.asarray(vertex_colors)
            colors = colors / 255.0 if colors.dtype == np.uint8 else colors.astype(np.float64)
        mat = material or self.material
        pr_material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=mat.base_color if colors is None else (1.0, 1.0, 1.0, 1.0),
            metallicFactor=mat.metallic,
            roughnessFactor=mat.roughness,
            alphaMode="OPAQUE",
            doubleSided=True,
        )
        if smooth:
            prim = pyrender.Primitive(positions=verts_gl, normals=normals, indices=faces, color_0=colors,
                                      material=pr_material)  # fmt: skip
        else:  # flat shading: unshared vertices with face normals
            tri = trimesh.Trimesh(verts_gl, faces, process=False)
            pos = verts_gl[faces].reshape(-1, 3)
            nrm = np.repeat(tri.face_normals, 3, axis=0)
            col = None if colors is None else colors[faces].reshape(-1, colors.shape[1])
            prim = pyrender.Primitive(positions=pos, normals=nrm, indices=np.arange(len(pos)).reshape(-1, 3),
                                      color_0=col, material=pr_material)  # fmt: skip
        bg = self.bg_color if bg_color is None else tuple(bg_color)
        scene = pyrender.Scene(bg_color=(*bg, 0.0), ambient_light=self.ambient)
        scene.add(pyrender.Mesh([prim]))
        camera = pyrender.IntrinsicsCamera(
            fx=K[0, 0], fy=K[1, 1], cx=K[0, 2] + 0.5, cy=K[1, 2] + 0.5, znear=self.znear, zfar=self.zfar
        )
        scene.add(camera, pose=np.eye(4))
        for obj, pose in self._light_nodes(pyrender):
            scene.add(obj, pose=pose)
        rgba, depth = offscreen.render(scene, flags=pyrender.RenderFlags.RGBA)  # (H, W, 4) uint8, (H, W)
        alpha = rgba[..., 3].astype(np.float32) / 255.0  # mean over the 4 samples of the pixel
        mask = rgba[..., 3] >= 128  # >= 2 of 4 samples covered
        return RenderResult(
            rgb=np.ascontiguousarray(rgba[..., :3]), depth=_depth_on_mask(depth, mask), mask=mask, alpha=alpha
        )

    def overlay(
        self,
        image: np.ndarray,
        vertices: np.ndarray,
        faces: np.ndarray,
        K: np.ndarray,
        alpha: float = 0.8,
        **render_kwargs: Any,
    ) -> np.ndarray:
        """Composite the rendered mesh over `image` (H, W, 3 uint8, same channel order as the colours) with
        anti-aliased edges; `alpha` is the opacity of the mesh. Same size out."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got {image.shape}")
        height, width = image.shape[:2]
        render_kwargs["bg_color"] = (0.0, 0.0, 0.0)  # black background: rgb comes premultiplied by coverage
        out = self.render(vertices, faces, K, (width, height), **render_kwargs)
        a = (alpha * out.alpha)[..., None]  # (H, W, 1)
        blended = image.astype(np.float32) * (1.0 - a) + alpha * out.rgb.astype(np.float32)
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _delete_offscreen(offscreen: Any, last: bool) -> None:
    """Delete a pyrender OffscreenRenderer. pyrender's EGL platform ends with `eglTerminate` on the display,
    which EGL shares across the process: that would break every other open renderer. Unless this is the last
    open context, destroy only this context."""
    platform = getattr(offscreen, "_platform", None)
    if not last and platform is not None and hasattr(platform, "_egl_context"):

        def destroy_context_only() -> None:
            from OpenGL.EGL import eglDestroyContext

            if platform._egl_display is not None and platform._egl_context is not None:
                eglDestroyContext(platform._egl_display, platform._egl_context)
            platform._egl_context = None
            platform._egl_display = None

        platform.delete_context = destroy_context_only
    offscreen.delete()


def _depth_on_mask(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Depth (H, W) from the one-sample depth resolve, made to agree with the coverage mask: 0 off the mask,
    and on mask pixels the depth sample missed, the largest depth of the 3 x 3 neighbourhood."""
    depth = np.where(mask, np.asarray(depth, dtype=np.float32), np.float32(0.0))
    holes = mask & (depth <= 0)
    if holes.any():
        import cv2

        depth[holes] = cv2.dilate(depth, np.ones((3, 3), np.uint8))[holes]
    return depth


_DEFAULT: Renderer | None = None


def default_renderer() -> Renderer:
    """A process-wide renderer, created on first use (closed at exit)."""
    global _DEFAULT
    if _DEFAULT is None:
        import atexit

        _DEFAULT = Renderer()
        atexit.register(_DEFAULT.close)
    return _DEFAULT


def render_mesh(
    vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, size: tuple[int, int], renderer: Renderer | None = None,
    **kwargs: Any,
) -> RenderResult:  # fmt: skip
    """Render with `renderer` or the shared default one (see `Renderer.render`)."""
    return (renderer or default_renderer()).render(vertices, faces, K, size, **kwargs)


def overlay(
    image: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    alpha: float = 0.8,
    renderer: Renderer | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Composite a rendered mesh over an image (see `Renderer.overlay`); uses a shared renderer."""
    return (renderer or default_renderer()).overlay(image, vertices, faces, K, alpha=alpha, **kwargs)
