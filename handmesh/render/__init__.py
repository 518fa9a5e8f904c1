"""Offscreen rendering of meshes (pyrender, headless through EGL). Import only where pictures are made."""

from handmesh.render.renderer import (
    DEFAULT_LIGHTS,
    EGL_HELP,
    Light,
    Material,
    Renderer,
    RendererError,
    RenderResult,
    default_renderer,
    overlay,
    render_mesh,
)

__all__ = [
    "DEFAULT_LIGHTS",
    "EGL_HELP",
    "Light",
    "Material",
    "RenderResult",
    "Renderer",
    "RendererError",
    "default_renderer",
    "overlay",
    "render_mesh",
]
