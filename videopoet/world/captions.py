"""The caption grammar: the one place that says how a Shapes World clip is put into words.

`describe` writes a caption for a scene description (canonically, or with random synonyms and
templates, as the training data does); `parse` reads one back. Every caption `describe` can
produce parses to the description it came from (tests check all synonyms).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .spec import CAMERAS, COLOUR_NAMES, MOTIONS, SHAPES, SIZES


@dataclass(frozen=True)
class ObjectDescription:
    """What a caption says about one object."""

    colour: str
    shape: str
    size: str
    motion: str


@dataclass(frozen=True)
class SceneDescription:
    """What a caption says about a clip: its objects, in drawing order, and the camera."""

    objects: tuple[ObjectDescription, ...]
    camera: str = "static"


# canonical word first; the rest are synonyms the training captions also use
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big"),
}
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "disc"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
}
MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("moving left", "moves to the left", "sliding left"),
    "right": ("moving right", "moves to the right", "sliding right"),
    "up": ("moving up", "rising"),
    "down": ("moving down", "falling"),
    "still": ("standing still", "resting"),
    "bounce": ("bouncing", "hopping"),
    "grow": ("growing", "getting bigger"),
    "shrink": ("shrinking", "getting smaller"),
}
CAMERA_PHRASES: dict[str, tuple[str, ...]] = {
    "pan left": ("the camera pans left", "camera panning left"),
    "pan right": ("the camera pans right", "camera panning right"),
    "zoom in": ("the camera zooms in", "zooming in"),
    "zoom out": ("the camera zooms out", "zooming out"),
}
# how the object phrases are joined, and how the camera phrase is attached
OBJECT_JOINERS: tuple[str, ...] = (" and ",)
CAMERA_TEMPLATES: tuple[str, ...] = ("{objects}, {camera}", "{objects} while {camera}")


class CaptionError(ValueError):
    """A caption that the Shapes World grammar cannot read."""


def _pick(options: tuple[str, ...], rng: np.random.Generator | None) -> str:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def describe(scene: SceneDescription, rng: np.random.Generator | None = None) -> str:
    """Put a scene into words: canonically when `rng` is None, else with random synonyms.

    >>> describe(SceneDescription((ObjectDescription("red", "circle", "large", "left"),), "pan right"))
    'a large red circle moving left, the camera pans right'
    """
    phrases = []
    for obj in scene.objects:
        words = [
            _pick(SIZE_WORDS[obj.size], rng),
            obj.colour,
            _pick(SHAPE_WORDS[obj.shape], rng),
            _pick(MOTION_PHRASES[obj.motion], rng),
        ]
        phrases.append("a " + " ".join(words))
    text = _pick(OBJECT_JOINERS, rng).join(phrases)
    if scene.camera != "static":
        template = _pick(CAMERA_TEMPLATES, rng)
        text = template.format(objects=text, camera=_pick(CAMERA_PHRASES[scene.camera], rng))
    return text


def _phrase_pattern(table: dict[str, tuple[str, ...]]) -> list[tuple[re.Pattern, str]]:
    """Longest phrases first, so 'moves to the left' wins over shorter overlaps."""
    pairs = [(phrase, key) for key, phrases in table.items() for phrase in phrases]
    pairs.sort(key=lambda pair: -len(pair[0]))
    return [(re.compile(r"\b" + re.escape(phrase) + r"\b"), key) for phrase, key in pairs]


_CAMERA_PATTERNS = _phrase_pattern(CAMERA_PHRASES)
_MOTION_PATTERNS = _phrase_pattern(MOTION_PHRASES)
_SIZE_PATTERNS = _phrase_pattern(SIZE_WORDS)
_SHAPE_PATTERNS = _phrase_pattern(SHAPE_WORDS)
_COLOUR_PATTERNS = _phrase_pattern({name: (name,) for name in COLOUR_NAMES})


def _find(patterns: list[tuple[re.Pattern, str]], text: str, what: str, caption: str) -> str:
    found = {key for pattern, key in patterns if pattern.search(text)}
    if len(found) != 1:
        reason = f"no {what}" if not found else f"several {what}s ({', '.join(sorted(found))})"
        raise CaptionError(f"caption {caption!r}: {reason} in {text.strip()!r}")
    return found.pop()


def parse(caption: str) -> SceneDescription:
    """Read a caption written in the Shapes World grammar back into a scene description."""
    text = " " + re.sub(r"\s+", " ", caption.lower().strip().rstrip(".")) + " "
    camera = "static"
    for pattern, key in _CAMERA_PATTERNS:
        if pattern.search(text):
            camera = key
            text = pattern.sub(" ", text)
            break
    text = re.sub(r"\bwhile\b|,", " ", text)
    objects = []
    for chunk in re.split(r"\band\b", text):
        if not chunk.strip():
            continue
        motion = _find(_MOTION_PATTERNS, chunk, "motion", caption)
        for pattern, _ in _MOTION_PATTERNS:
            chunk = pattern.sub(" ", chunk)
        objects.append(
            ObjectDescription(
                colour=_find(_COLOUR_PATTERNS, chunk, "colour", caption),
                shape=_find(_SHAPE_PATTERNS, chunk, "shape", caption),
                size=_find(_SIZE_PATTERNS, chunk, "size", caption),
                motion=motion,
            )
        )
    if not objects:
        raise CaptionError(f"caption {caption!r}: names no object")
    return SceneDescription(tuple(objects), camera)


assert set(SIZE_WORDS) == set(SIZES) and set(SHAPE_WORDS) == set(SHAPES)
assert set(MOTION_PHRASES) == set(MOTIONS) and set(CAMERA_PHRASES) == set(CAMERAS) - {"static"}
