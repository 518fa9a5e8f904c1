"""Evaluation metrics: the official FreiHAND numbers (`freihand`) and a DDP-safe torchmetrics wrapper (`metric`)."""
