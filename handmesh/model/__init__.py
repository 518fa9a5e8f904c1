"""The network: image encoder (timm) -> MANO/camera head -> hand model -> camera frame."""
