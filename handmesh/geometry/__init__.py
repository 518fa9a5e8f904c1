"""Pure tensor geometry: rotations, Procrustes alignment, cameras and projection."""
