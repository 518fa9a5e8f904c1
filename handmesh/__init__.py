"""handmesh: single-image 3D hand mesh regression (FastViT + MANO) on FreiHAND."""

__version__ = "0.1.0"
