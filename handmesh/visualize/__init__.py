"""Pictures of hand meshes: overlays with K, side/top views, keypoint skeletons, error maps, grids.

Import only where pictures are made (it imports the renderer). One function per picture:
`overlay_picture`, `views_picture`, `skeleton_picture`, `error_picture`; `comparison_row` puts them
side by side for a sample, `overlay_grid` / `save_overlay_grid` stack rows for many samples.
"""

from handmesh.visualize.draw import (
    BONES,
    colorbar,
    denormalize_image,
    draw_skeleton,
    image_grid,
    project_points,
    save_image,
)
from handmesh.visualize.error_map import aligned_prediction, error_colors, vertex_errors_mm
from handmesh.visualize.pictures import (
    STANDIN_BANNER,
    SampleView,
    comparison_row,
    dataset_samples,
    error_picture,
    overlay_grid,
    overlay_picture,
    prediction_panel,
    save_overlay_grid,
    skeleton_picture,
    views_picture,
)
from handmesh.visualize.views import GT_MATERIAL, PRED_MATERIAL, VIEWS, orbit_camera, render_views

__all__ = [
    "BONES",
    "GT_MATERIAL",
    "PRED_MATERIAL",
    "STANDIN_BANNER",
    "VIEWS",
    "SampleView",
    "aligned_prediction",
    "colorbar",
    "comparison_row",
    "dataset_samples",
    "denormalize_image",
    "draw_skeleton",
    "error_colors",
    "error_picture",
    "image_grid",
    "orbit_camera",
    "overlay_grid",
    "overlay_picture",
    "prediction_panel",
    "project_points",
    "render_views",
    "save_image",
    "save_overlay_grid",
    "skeleton_picture",
    "vertex_errors_mm",
    "views_picture",
]
