"""Rendering a Shapes World scene into pixels and samples, deterministically."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .captions import ObjectDescription, describe
from .scene import Scene, camera_transform, picture_track, sample_scene, shape_extents, split_rng
from .spec import (
    BACKGROUND_CELL,
    BACKGROUND_GREY,
    BOUNCE_HALF_PERIOD,
    CLICK_AMPLITUDE,
    CLICK_SECONDS,
    COLOURS,
    DEFAULT_FRAMES,
    DEFAULT_SIZE,
    FPS,
    SAMPLE_RATE,
    SQUARE_HALF_SIDE,
    TONE_AMPLITUDE,
    TONE_FADE_SECONDS,
    TRIANGLE_CIRCUMRADIUS,
    WORLD_EXTENT,
    check_render_size,
)

SUPERSAMPLE = 4


@dataclass(frozen=True)
class Clip:
    """One rendered clip.

    video: (T, S, S, 3) uint8 RGB.  audio: (T / 8 * 16000,) float32 in [-1, 1].
    caption: the training caption (random synonyms, seeded by the clip).
    """

    scene: Scene
    video: np.ndarray
    audio: np.ndarray
    caption: str
    fps: int = FPS
    sample_rate: int = SAMPLE_RATE

    @property
    def canonical_caption(self) -> str:
        return describe(self.scene.description)


def render_clip(split: str, seed: int, size: int = DEFAULT_SIZE, frames: int = DEFAULT_FRAMES) -> Clip:
    """Render clip (split, seed) at `size`x`size` pixels and `frames` frames, with audio and caption."""
    check_render_size(size, frames)
    scene = sample_scene(split, seed)
    return Clip(scene, render_video(scene, size, frames), render_audio(scene, frames), training_caption(scene))


def training_caption(scene: Scene) -> str:
    """The caption clip (scene.split, scene.seed) is trained with (random synonyms and template,
    the same on every machine); cheap: nothing is rendered."""
    return describe(scene.description, split_rng(scene.split, scene.seed, stream=1))


def _noise_lattice(background_seed: int) -> np.ndarray:
    lo, hi = WORLD_EXTENT
    cells = int(math.ceil((hi - lo) / BACKGROUND_CELL)) + 2
    rng = np.random.Generator(np.random.PCG64(background_seed))
    return rng.uniform(0.0, 1.0, size=(cells, cells))


def _value_noise(lattice: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1] at world points (x, y): smoothstep-interpolated lattice."""
    lo = WORLD_EXTENT[0]
    u = np.clip((x - lo) / BACKGROUND_CELL, 0, lattice.shape[1] - 1.000001)
    v = np.clip((y - lo) / BACKGROUND_CELL, 0, lattice.shape[0] - 1.000001)
    i, j = np.floor(v).astype(np.int64), np.floor(u).astype(np.int64)
    fy, fx = v - i, u - j
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    top = lattice[i, j] * (1 - fx) + lattice[i, j + 1] * fx
    bottom = lattice[i + 1, j] * (1 - fx) + lattice[i + 1, j + 1] * fx
    return top * (1 - fy) + bottom * fy


def render_background(scene: Scene, size: int, frames: int) -> np.ndarray:
    """The grey background seen through the camera: (T, S, S) float64 grey levels in [20, 70]."""
    t = np.arange(frames, dtype=np.float64)
    z, ox, oy = camera_transform(scene.camera, t)
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size
    # picture p -> world w = c + (p - c) / z + o
    wx = 0.5 + (centres[None, None, :] - 0.5) / z[:, None, None] + ox[:, None, None]
    wy = 0.5 + (centres[None, :, None] - 0.5) / z[:, None, None] + oy[:, None, None]
    wx, wy = np.broadcast_arrays(wx, wy)
    noise = _value_noise(_noise_lattice(scene.background_seed), wx, wy)
    low, high = BACKGROUND_GREY
    return low + (high - low) * noise


def _inside(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Whether offsets (dx, dy) from the centre fall inside the shape of size radius r."""
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        half = SQUARE_HALF_SIDE * r
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # equilateral triangle, one vertex straight up (y is downward), circumradius R:
    # below the base line y = R/2 is outside; each slanted edge is a half-plane
    big_r = TRIANGLE_CIRCUMRADIUS * r
    slope = math.sqrt(3)
    return (dy <= big_r / 2) & (slope * dx - dy <= big_r) & (-slope * dx - dy <= big_r)


def coverage(shape: str, cx: float, cy: float, r: float, size: int) -> tuple[slice, slice, np.ndarray]:
    """Anti-aliased coverage of one shape: (row slice, column slice, alpha (h, w) in [0, 1]).

    Each pixel is sampled on a 4x4 grid and box-averaged.
    """
    left, right, top, bottom = shape_extents(shape)
    x0 = max(int(math.floor((cx - left * r) * size)), 0)
    x1 = min(int(math.ceil((cx + right * r) * size)), size)
    y0 = max(int(math.floor((cy - top * r) * size)), 0)
    y1 = min(int(math.ceil((cy + bottom * r) * size)), size)
    if x1 <= x0 or y1 <= y0:
        return slice(0, 0), slice(0, 0), np.zeros((0, 0))
    sub = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    xs = ((np.arange(x0, x1)[:, None] + sub[None, :]) / size).reshape(-1)
    ys = ((np.arange(y0, y1)[:, None] + sub[None, :]) / size).reshape(-1)
    hits = _inside(shape, xs[None, :] - cx, ys[:, None] - cy, r)
    alpha = hits.reshape(y1 - y0, SUPERSAMPLE, x1 - x0, SUPERSAMPLE).mean(axis=(1, 3))
    return slice(y0, y1), slice(x0, x1), alpha


def render_video(scene: Scene, size: int = DEFAULT_SIZE, frames: int = DEFAULT_FRAMES) -> np.ndarray:
    """Render the pictures of a scene: (T, S, S, 3) uint8 RGB."""
    check_render_size(size, frames)
    grey = render_background(scene, size, frames)
    video = np.repeat(grey[..., None], 3, axis=-1)
    t = np.arange(frames)
    for obj, start in zip(scene.objects, scene.starts):
        colour = np.asarray(COLOURS[obj.colour][0], dtype=np.float64)
        xs, ys, rs = picture_track(obj, start, scene.camera, t)
        for k in range(frames):
            rows, cols, alpha = coverage(obj.shape, xs[k], ys[k], rs[k], size)
            region = video[k, rows, cols]
            video[k, rows, cols] = region * (1 - alpha[..., None]) + colour * alpha[..., None]
    return np.clip(np.rint(video), 0, 255).astype(np.uint8)


def _tone(obj: ObjectDescription, seconds: np.ndarray, duration: float) -> np.ndarray:
    frequency = COLOURS[obj.colour][1]
    fade = np.clip(np.minimum(seconds, duration - seconds) / TONE_FADE_SECONDS, 0.0, 1.0)
    return TONE_AMPLITUDE * fade * np.sin(2 * np.pi * frequency * seconds)


def bounce_frames(frames: int) -> list[int]:
    """Frames at which a bouncing object touches its floor."""
    return list(range(0, frames, BOUNCE_HALF_PERIOD))


def render_audio(scene: Scene, frames: int = DEFAULT_FRAMES) -> np.ndarray:
    """Render the sound of a scene: (frames / 8 * 16000,) float32 in [-1, 1]."""
    samples = int(round(frames / FPS * SAMPLE_RATE))
    duration = samples / SAMPLE_RATE
    seconds = np.arange(samples, dtype=np.float64) / SAMPLE_RATE
    audio = np.zeros(samples, dtype=np.float64)
    click_rng = split_rng(scene.split, scene.seed, stream=2)
    click_length = int(round(CLICK_SECONDS * SAMPLE_RATE))
    decay = 1.0 - np.arange(click_length) / click_length
    for obj in scene.objects:
        audio += _tone(obj, seconds, duration)
        if obj.motion != "bounce":
            continue
        for frame in bounce_frames(frames):
            start = int(round(frame / FPS * SAMPLE_RATE))
            noise = click_rng.uniform(-1.0, 1.0, size=click_length) * CLICK_AMPLITUDE * decay
            stop = min(start + click_length, samples)
            audio[start:stop] += noise[: stop - start]
    return np.clip(audio, -1.0, 1.0).astype(np.float32)
