"""Procedural backgrounds for the synthetic FreiHAND-format set, one kind per FreiHAND version.

All return uint8 BGR (size, size, 3) images drawn from a numpy Generator (deterministic for a seed):
  gs: a plain green-screen-like colour with a soft illumination falloff;
  hom: procedural textures (gratings, checkers, stripes);
  sample: noise at random scales;
  auto: random procedural images (gradients with random shapes).
"""

from __future__ import annotations

import cv2
import numpy as np


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3)


def _illumination(size: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth (size, size, 1) brightness falloff around a random point."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cx, cy = rng.uniform(-0.2, 1.2, size=2)
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    return (1.0 - strength * np.clip(r2, 0, 1.5) / 1.5)[..., None]


def green_screen(size: int, rng: np.random.Generator) -> np.ndarray:
    """A plain green-screen-like colour (hue 100-150 deg), softly lit, with a little sensor noise."""
    hsv = np.array([[[rng.uniform(50, 75), rng.uniform(150, 240), rng.uniform(120, 220)]]], np.uint8)  # OpenCV hue/2
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    image = colour * _illumination(size, rng, rng.uniform(0.1, 0.4))
    image += rng.normal(0, 2.0, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural texture: sum of sinusoidal gratings, a checkerboard or stripes, in two random colours."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:
        field = np.zeros((size, size), np.float32)
        for _ in range(rng.integers(2, 5)):
            angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.02, 0.25), rng.uniform(0, 2 * np.pi)
            field += np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
        t = 0.5 + 0.5 * np.tanh(field)
    elif kind == 1:
        period = rng.uniform(8, 40)
        angle = rng.uniform(0, np.pi)
        u = np.cos(angle) * xx + np.sin(angle) * yy
        v = -np.sin(angle) * xx + np.cos(angle) * yy
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    else:
        period = rng.uniform(4, 30)
        angle = rng.uniform(0, np.pi)
        t = np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period) > rng.uniform(-0.5, 0.5)
        t = t.astype(np.float32)
    a, b = _random_colour(rng), _random_colour(rng)
    image = a * t[..., None] + b * (1 - t[..., None])
    image *= _illumination(size, rng, rng.uniform(0.0, 0.4))
    return np.clip(image, 0, 255).astype(np.uint8)


def noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """Colour noise: a random-resolution grid upsampled smoothly, plus fine grain."""
    cells = int(np.exp(rng.uniform(np.log(2), np.log(64))))  # log-uniform scale
    grid = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
    image = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    image += rng.normal(0, rng.uniform(2, 25), size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def shapes(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random procedural picture: a linear gradient with random circles, rectangles, polygons and lines."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
    image = _random_colour(rng) * t + _random_colour(rng) * (1 - t)
    image = np.ascontiguousarray(image.astype(np.uint8))
    for _ in range(rng.integers(4, 16)):
        colour = tuple(int(c) for c in _random_colour(rng))
        kind = rng.integers(4)
        p = rng.integers(-size // 4, size + size // 4, size=2)
        if kind == 0:
            cv2.circle(image, (int(p[0]), int(p[1])), int(rng.integers(5, size // 3)), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            q = p + rng.integers(10, size // 2, size=2)
            cv2.rectangle(image, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), colour, -1)
        elif kind == 2:
            pts = (p + rng.integers(-size // 3, size // 3, size=(int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(image, [pts], colour, cv2.LINE_AA)
        else:
            q = rng.integers(0, size, size=2)
            width = int(rng.integers(1, 8))
            cv2.line(image, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), colour, width, cv2.LINE_AA)
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.5))
    return image


BACKGROUNDS = (green_screen, texture, noise, shapes)  # indexed by FreiHAND version 0..3


def background(version: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The background of FreiHAND version `version` (0 gs, 1 hom, 2 sample, 3 auto)."""
    return BACKGROUNDS[version](size, rng)
