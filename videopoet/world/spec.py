"""The Shapes World's constants, exactly as `shared/SHAPES_WORLD.md` (spec v1) gives them.

Geometry is in canvas units: the canvas is [0, 1]^2, x to the right, y downward.
Everything that the renderer, the caption grammar and the evaluator share lives here.
"""

from __future__ import annotations

FPS = 8
SAMPLE_RATE = 16_000
DEFAULT_SIZE = 64
DEFAULT_FRAMES = 17

# colour name -> (RGB, tone frequency in Hz)
COLOURS: dict[str, tuple[tuple[int, int, int], float]] = {
    "red": ((230, 40, 40), 261.63),
    "orange": ((250, 140, 20), 293.66),
    "yellow": ((240, 220, 40), 329.63),
    "green": ((40, 200, 70), 349.23),
    "cyan": ((40, 210, 220), 392.00),
    "blue": ((40, 90, 240), 440.00),
    "purple": ((160, 60, 220), 493.88),
    "white": ((245, 245, 245), 523.25),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZE_RADIUS: dict[str, float] = {"small": 0.10, "large": 0.16}
SIZES: tuple[str, ...] = tuple(SIZE_RADIUS)
SQUARE_HALF_SIDE = 0.9  # times r
TRIANGLE_CIRCUMRADIUS = 1.2  # times r

MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "still", "bounce", "grow", "shrink")
SPEED = 0.025  # canvas per frame, for left / right / up / down
BOUNCE_HEIGHT = 0.3
BOUNCE_HALF_PERIOD = 8  # frames: y(t) = y_floor - 0.3 * |sin(pi * t / 8)|
GROWTH = 1.04  # per frame, for grow / shrink

CAMERAS: tuple[str, ...] = ("static", "pan left", "pan right", "zoom in", "zoom out")
PAN_SPEED = 0.02  # canvas per frame
ZOOM = 1.03  # per frame

BACKGROUND_GREY = (20, 70)
BACKGROUND_CELL = 0.15  # value-noise lattice spacing: features about 0.1-0.2 canvas wide
WORLD_EXTENT = (-4.0, 5.0)  # the noise field covers this square of world space (long clips pan far)

PICTURE_RADIUS_RANGE = (0.06, 0.3)
OVERLAP_MARGIN = 0.03  # centre distance > 1.2 * (r1 + r2) + 0.03

TONE_AMPLITUDE = 0.25
TONE_FADE_SECONDS = 0.020
CLICK_SECONDS = 0.010
CLICK_AMPLITUDE = 0.5

# colour-shape pairs that never appear in training data: the compositional test split
COMPOSITIONAL_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("green", "triangle"), ("purple", "circle"), ("orange", "square"), ("cyan", "triangle")}
)
SPLITS: tuple[str, ...] = ("train", "test", "compositional")


def check_render_size(size: int, frames: int) -> None:
    """Raise ValueError unless (size, frames) is a renderable clip shape."""
    if not isinstance(size, int) or size % 16 or not 32 <= size <= 512:
        raise ValueError(f"size={size!r}: the Shapes World renders at multiples of 16 from 32 to 512")
    if not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames={frames!r}: a clip needs at least one frame")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
