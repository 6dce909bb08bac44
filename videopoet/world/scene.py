"""Scenes: what is in a Shapes World clip and where everything is at every frame.

A scene is fully determined by (split, seed). Start positions are drawn by rejection so that,
over the default 17 frames and after the camera, every object stays wholly inside the
picture, its picture radius stays within [0.06, 0.3] and no two objects overlap. The check
always covers the default length, so a shorter clip of a scene is a prefix of the full one
(the first frame of a video is the image of the same scene).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .captions import ObjectDescription, SceneDescription
from .spec import (
    BOUNCE_HALF_PERIOD,
    BOUNCE_HEIGHT,
    CAMERAS,
    COLOUR_NAMES,
    COMPOSITIONAL_PAIRS,
    DEFAULT_FRAMES,
    GROWTH,
    MOTIONS,
    OVERLAP_MARGIN,
    PAN_SPEED,
    PICTURE_RADIUS_RANGE,
    SHAPES,
    SIZE_RADIUS,
    SIZES,
    SPEED,
    SPLITS,
    SQUARE_HALF_SIDE,
    TRIANGLE_CIRCUMRADIUS,
    ZOOM,
    check_split,
)

CAMERA_WEIGHTS = {"static": 0.4, "pan left": 0.15, "pan right": 0.15, "zoom in": 0.15, "zoom out": 0.15}
TRIANGLE_HALF_WIDTH = TRIANGLE_CIRCUMRADIUS * math.sqrt(3) / 2
_PLACEMENT_TRIES = 64


@dataclass(frozen=True)
class Scene:
    """A clip's content: the description a caption gives plus where each object starts.

    `starts[i]` is object i's world position (x, y) at frame 0; for a bouncing object y is
    its floor. `background_seed` seeds the grey value-noise field.
    """

    split: str
    seed: int
    description: SceneDescription
    starts: tuple[tuple[float, float], ...]
    background_seed: int

    @property
    def objects(self) -> tuple[ObjectDescription, ...]:
        return self.description.objects

    @property
    def camera(self) -> str:
        return self.description.camera


def split_rng(split: str, seed: int, stream: int) -> np.random.Generator:
    """The random stream `stream` of clip (split, seed): the same on every machine."""
    check_split(split)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([SPLITS.index(split), int(seed), stream])))


def camera_transform(camera: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera at frames `t` (n,): zoom z and view offset (ox, oy), each (n,).

    A world point w appears in the picture at  p = c + z * (w - c - o),  c = (0.5, 0.5).
    """
    t = np.asarray(t, dtype=np.float64)
    zero = np.zeros_like(t)
    if camera == "static":
        return np.ones_like(t), zero, zero
    if camera == "pan left":
        return np.ones_like(t), -PAN_SPEED * t, zero
    if camera == "pan right":
        return np.ones_like(t), PAN_SPEED * t, zero
    if camera == "zoom in":
        return ZOOM**t, zero, zero
    if camera == "zoom out":
        return ZOOM ** (-t), zero, zero
    raise ValueError(f"camera={camera!r}: expected one of {', '.join(CAMERAS)}")


def world_track(obj: ObjectDescription, start: tuple[float, float], t: np.ndarray) -> tuple[np.ndarray, ...]:
    """An object's world centre x, y and radius r at frames `t` (n,), each (n,)."""
    t = np.asarray(t, dtype=np.float64)
    x = np.full_like(t, start[0])
    y = np.full_like(t, start[1])
    r = np.full_like(t, SIZE_RADIUS[obj.size])
    if obj.motion == "left":
        x = x - SPEED * t
    elif obj.motion == "right":
        x = x + SPEED * t
    elif obj.motion == "up":
        y = y - SPEED * t
    elif obj.motion == "down":
        y = y + SPEED * t
    elif obj.motion == "bounce":
        y = y - BOUNCE_HEIGHT * np.abs(np.sin(np.pi * t / BOUNCE_HALF_PERIOD))
    elif obj.motion == "grow":
        r = r * GROWTH**t
    elif obj.motion == "shrink":
        r = r * GROWTH ** (-t)
    elif obj.motion != "still":
        raise ValueError(f"motion={obj.motion!r}: expected one of {', '.join(MOTIONS)}")
    return x, y, r


def picture_track(
    obj: ObjectDescription, start: tuple[float, float], camera: str, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where an object appears: picture centre x, y and picture radius r at frames `t`, each (n,)."""
    x, y, r = world_track(obj, start, t)
    z, ox, oy = camera_transform(camera, t)
    return 0.5 + z * (x - 0.5 - ox), 0.5 + z * (y - 0.5 - oy), z * r


def shape_extents(shape: str) -> tuple[float, float, float, float]:
    """Distance from the centre to the (left, right, top, bottom) edge, in units of r."""
    if shape == "circle":
        return 1.0, 1.0, 1.0, 1.0
    if shape == "square":
        return (SQUARE_HALF_SIDE,) * 4
    if shape == "triangle":
        return TRIANGLE_HALF_WIDTH, TRIANGLE_HALF_WIDTH, TRIANGLE_CIRCUMRADIUS, TRIANGLE_CIRCUMRADIUS / 2
    raise ValueError(f"shape={shape!r}: expected one of {', '.join(SHAPES)}")


def _bounding_radius(shape: str) -> float:
    """Farthest point of the shape from its centre, in units of r."""
    return {"circle": 1.0, "square": SQUARE_HALF_SIDE * math.sqrt(2), "triangle": TRIANGLE_CIRCUMRADIUS}[shape]


def _fits(description: SceneDescription, starts: list[tuple[float, float]]) -> bool:
    """Whether the objects obey the spec's placement rules over the default clip length."""
    t = np.arange(DEFAULT_FRAMES)
    tracks = []
    for obj, start in zip(description.objects, starts):
        x, y, r = picture_track(obj, start, description.camera, t)
        left, right, top, bottom = shape_extents(obj.shape)
        inside = (x - left * r >= 0) & (x + right * r <= 1) & (y - top * r >= 0) & (y + bottom * r <= 1)
        radius_ok = (r >= PICTURE_RADIUS_RANGE[0]) & (r <= PICTURE_RADIUS_RANGE[1])
        if not (inside.all() and radius_ok.all()):
            return False
        tracks.append((x, y, r, _bounding_radius(obj.shape)))
    for i in range(len(tracks)):
        for j in range(i):
            xi, yi, ri, bi = tracks[i]
            xj, yj, rj, bj = tracks[j]
            distance = np.hypot(xi - xj, yi - yj)
            needed = np.maximum(1.2 * (ri + rj) + OVERLAP_MARGIN, bi * ri + bj * rj + OVERLAP_MARGIN)
            if not (distance > needed).all():
                return False
    return True


def _draw_objects(split: str, rng: np.random.Generator) -> list[ObjectDescription]:
    count = 1 + int(rng.integers(2))
    held_out = sorted(COMPOSITIONAL_PAIRS)
    objects: list[ObjectDescription] = []
    while len(objects) < count:
        if split == "compositional" and not objects:
            colour, shape = held_out[int(rng.integers(len(held_out)))]
        else:
            colour = COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))]
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
        if any(colour == other.colour for other in objects):
            continue
        if split != "compositional" and (colour, shape) in COMPOSITIONAL_PAIRS:
            continue
        size = SIZES[int(rng.integers(len(SIZES)))]
        motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
        objects.append(ObjectDescription(colour, shape, size, motion))
    return objects


def sample_scene(split: str, seed: int) -> Scene:
    """The scene of clip (split, seed), drawn by rejection; the same on every machine.

    Train and test draw from the same distribution (every colour-shape pair but the held-out
    four) with independent random streams; every compositional clip holds a held-out pair.
    """
    rng = split_rng(split, seed, stream=0)
    cameras, weights = zip(*CAMERA_WEIGHTS.items())
    while True:
        objects = _draw_objects(split, rng)
        camera = cameras[int(rng.choice(len(cameras), p=np.array(weights)))]
        description = SceneDescription(tuple(objects), camera)
        for _ in range(_PLACEMENT_TRIES):
            starts = [(float(rng.uniform(0, 1)), float(rng.uniform(0, 1))) for _ in objects]
            if _fits(description, starts):
                return Scene(split, int(seed), description, tuple(starts), int(rng.integers(2**31)))
