"""The Shapes World evaluator: recover what a clip shows from its pixels and samples alone.

`observe` reads a clip (no access to how it was made): the objects (colour, shape, size class,
motion class, picture track), the camera class, the colours sounding and the bounce clicks.
`score_clip` compares an observation with the description a caption gives, and `EvalReport`
aggregates many clips into per-attribute accuracies.

How each attribute is read:
- objects: pixels within `COLOUR_TOLERANCE` of a palette colour, the largest connected
  component per colour and frame; colours seen in at least half the frames are objects.
- shape: the object's soft coverage (alpha against its local background) is compared with a
  circle, square and triangle of the same area at the same centroid; best IoU wins, per frame,
  then a vote.
- size: the picture radius at frame 0 (where neither camera nor motion has scaled it yet).
- camera: each camera class predicts how frame 0's background moves into frame t; the class
  whose prediction matches the object-free background best wins.
- motion: the picture track, mapped back to world coordinates through the camera, is fitted
  by each motion's model (free start, fixed speed); the smallest normalised error wins.
- audio: tone amplitudes at the eight colour frequencies; clicks as bursts of energy above
  1.5 kHz.
- fidelity: `psnr` against a reference clip, over all pixels or a mask (the filled region of
  an inpainting), and `first_frame_psnr` against a given image.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from ..data.captions import read_captions
from ..io.read import read_video
from ..io.write import VideoLike, to_uint8_frames
from ..metrics import psnr
from .captions import SceneDescription, parse
from .render import bounce_frames, coverage
from .scene import camera_transform
from .spec import (
    BOUNCE_HALF_PERIOD,
    BOUNCE_HEIGHT,
    CAMERAS,
    COLOUR_NAMES,
    COLOURS,
    FPS,
    GROWTH,
    MOTIONS,
    SAMPLE_RATE,
    SHAPES,
    SIZE_RADIUS,
    SPEED,
    SQUARE_HALF_SIDE,
    TONE_AMPLITUDE,
    TRIANGLE_CIRCUMRADIUS,
)

COLOUR_TOLERANCE = 75.0  # RGB distance from a palette colour for a pixel to count as that colour
MIN_AREA = 0.003  # smallest object component, as a share of the picture ...
MIN_PIXELS = 6  # ... and in pixels, for small pictures
SIZE_THRESHOLD = math.sqrt(SIZE_RADIUS["small"] * SIZE_RADIUS["large"])
TONE_THRESHOLD = 0.25 * TONE_AMPLITUDE
TONE_SEARCH_HZ = 2.0  # search +-2 Hz around each tone; the closest two tones are 19.6 Hz apart
CLICK_CUTOFF_HZ = 1500.0
CLICK_THRESHOLD = 0.05  # RMS above the cutoff, per 5 ms window
CLICK_MERGE_SECONDS = 0.03
POSITION_NOISE = 0.02  # canvas units: the scale of track errors the motion fit tolerates
LOG_RADIUS_NOISE = 0.1

_PALETTE = np.array([COLOURS[name][0] for name in COLOUR_NAMES], dtype=np.float32)
# area of each shape per r^2, to turn a measured area into a radius
_AREA_PER_R2 = {
    "circle": math.pi,
    "square": (2 * SQUARE_HALF_SIDE) ** 2,
    "triangle": 3 * math.sqrt(3) / 4 * TRIANGLE_CIRCUMRADIUS**2,
}
VISUAL_ATTRIBUTES = ("count", "colour", "shape", "size", "motion", "camera")
AUDIO_ATTRIBUTES = ("audio_colour", "audio_clicks")


@dataclass
class ObjectObservation:
    """One object as seen in the pixels. track: (T, 3) picture x, y, radius (NaN where unseen);
    `shape` is the majority of `frame_shapes`, each frame's own reading ("" where unseen)."""

    colour: str
    shape: str
    size: str
    motion: str
    track: np.ndarray
    area: float
    frame_shapes: tuple[str, ...]


@dataclass
class Observation:
    """Everything the evaluator recovered from one clip."""

    objects: list[ObjectObservation]
    camera: str
    audio_colours: frozenset[str] | None = None
    clicks: int | None = None
    frames: int = 0


# ----------------------------------------------------------------------------- pixels


def label_colours(frames: np.ndarray) -> np.ndarray:
    """Per-pixel palette index (T, H, W) int8: 0..7 for the colours, -1 for none."""
    pixels = frames.astype(np.float32)
    distance = np.linalg.norm(pixels[..., None, :] - _PALETTE, axis=-1)
    labels = distance.argmin(axis=-1).astype(np.int8)
    labels[distance.min(axis=-1) > COLOUR_TOLERANCE] = -1
    return labels


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    components, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return None
    sizes = np.bincount(components.ravel())[1:]
    return components == (1 + int(sizes.argmax()))


def _local_background(frame: np.ndarray, labels: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """The median grey of unlabelled, unsaturated pixels in `box`: (3,) float."""
    patch = frame[box].astype(np.float32)
    grey = (labels[box] < 0) & (np.ptp(patch, axis=-1) < 25) & (patch.mean(axis=-1) < 110)
    if grey.sum() < 4:
        return np.full(3, 45.0, dtype=np.float32)
    return np.median(patch[grey], axis=0)


def _soft_mask(frame: np.ndarray, labels: np.ndarray, component: np.ndarray, colour: int) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Alpha (coverage) of the object around `component`, estimated against its local background."""
    rows, cols = np.nonzero(component)
    height, width = component.shape
    box = (slice(max(rows.min() - 3, 0), min(rows.max() + 4, height)), slice(max(cols.min() - 3, 0), min(cols.max() + 4, width)))
    background = _local_background(frame, labels, box)
    target = _PALETTE[colour]
    direction = target - background
    alpha = ((frame[box].astype(np.float32) - background) @ direction) / max(float(direction @ direction), 1.0)
    near = ndimage.binary_dilation(component[box], iterations=2)
    foreign = (labels[box] >= 0) & (labels[box] != colour)
    return np.where(near & ~foreign, np.clip(alpha, 0.0, 1.0), 0.0), box


def _classify_shape(alpha: np.ndarray, box: tuple[slice, slice], size: int) -> tuple[str, float, float, float]:
    """Best-matching shape for a soft mask: (shape, centre x, centre y, radius), canvas units."""
    area = float(alpha.sum())
    ys, xs = np.mgrid[box[0], box[1]]
    cx = float((alpha * (xs + 0.5)).sum() / area) / size
    cy = float((alpha * (ys + 0.5)).sum() / area) / size
    full = np.zeros((size, size))
    full[box] = alpha
    best = ("circle", -1.0, 0.0)
    for shape in SHAPES:
        radius = math.sqrt(area / _AREA_PER_R2[shape]) / size
        template = np.zeros((size, size))
        rows, cols, cover = coverage(shape, cx, cy, radius, size)
        template[rows, cols] = cover
        iou = np.minimum(full, template).sum() / max(np.maximum(full, template).sum(), 1e-9)
        if iou > best[1]:
            best = (shape, iou, radius)
    return best[0], cx, cy, best[2]


class _Sighting(NamedTuple):
    """An object in one frame: its soft coverage `alpha` over the pixel window `box`."""

    frame: int
    alpha: np.ndarray
    box: tuple[slice, slice]


def _find_objects(frames: np.ndarray) -> list[tuple[int, list[_Sighting]]]:
    """Per colour seen in at least half the frames: (colour index, its sightings)."""
    count = frames.shape[0]
    labels = label_colours(frames)
    min_pixels = max(MIN_AREA * frames.shape[1] * frames.shape[2], MIN_PIXELS)
    found = []
    for colour in range(len(COLOUR_NAMES)):
        sightings = []
        for t in range(count):
            mask = labels[t] == colour
            if mask.sum() < min_pixels:
                continue
            component = _largest_component(mask)
            if component is None or component.sum() < min_pixels:
                continue
            sightings.append(_Sighting(t, *_soft_mask(frames[t], labels[t], component, colour)))
        if len(sightings) * 2 >= count:
            found.append((colour, sightings))
    return found


# ----------------------------------------------------------------------------- camera


def estimate_camera(frames: np.ndarray, object_mask: np.ndarray) -> str:
    """Camera class from the background's motion. frames: (T, H, W, 3) uint8; mask: (T, H, W) bool."""
    count, height, width = frames.shape[:3]
    if count < 2:
        return "static"
    grey = frames.astype(np.float32).mean(axis=-1)
    mask = ndimage.binary_dilation(object_mask, structure=np.ones((1, 5, 5)))
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    py, px = (rows + 0.5) / height, (cols + 0.5) / width
    steps = [t for t in range(1, count) if t % 2 == 0 or t == count - 1] or [1]
    errors = {}
    for camera in CAMERAS:
        z, ox, oy = camera_transform(camera, np.asarray(steps))
        total, weight = 0.0, 0.0
        for index, t in enumerate(steps):
            # frame t at picture p shows the world point that frame 0 showed at c + (p - c) / z + o
            sx = (0.5 + (px - 0.5) / z[index] + ox[index]) * width - 0.5
            sy = (0.5 + (py - 0.5) / z[index] + oy[index]) * height - 0.5
            inside = (sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= height - 1)
            source = ndimage.map_coordinates(grey[0], [sy, sx], order=1, mode="nearest")
            source_masked = ndimage.map_coordinates(mask[0].astype(np.float32), [sy, sx], order=0, mode="nearest") > 0
            valid = inside & ~mask[t] & ~source_masked
            if valid.sum() < 0.05 * height * width:
                continue
            total += float(np.abs(source - grey[t])[valid].mean())
            weight += 1.0
        errors[camera] = total / weight if weight else math.inf
    return min(errors, key=errors.get)


# ----------------------------------------------------------------------------- motion


def _motion_error(motion: str, t: np.ndarray, x: np.ndarray, y: np.ndarray, log_r: np.ndarray) -> float:
    vx = {"left": -SPEED, "right": SPEED}.get(motion, 0.0)
    vy = {"up": -SPEED, "down": SPEED}.get(motion, 0.0)
    growth = {"grow": 1.0, "shrink": -1.0}.get(motion, 0.0) * math.log(GROWTH)
    model_x = vx * t
    model_y = vy * t - (BOUNCE_HEIGHT * np.abs(np.sin(np.pi * t / BOUNCE_HALF_PERIOD)) if motion == "bounce" else 0.0)
    model_r = growth * t

    def residual(values: np.ndarray, model: np.ndarray) -> float:
        offset = values - model
        return float(np.mean((offset - offset.mean()) ** 2))

    position = residual(x, model_x) + residual(y, model_y)
    return position / POSITION_NOISE**2 + residual(log_r, model_r) / LOG_RADIUS_NOISE**2


def classify_motion(track: np.ndarray, camera: str) -> str:
    """Motion class from a picture track (T, 3) of x, y, r (NaN where unseen), given the camera."""
    t = np.arange(len(track), dtype=np.float64)
    seen = ~np.isnan(track).any(axis=1)
    if seen.sum() < 2:
        return "still"
    t = t[seen]
    z, ox, oy = camera_transform(camera, t)
    x = 0.5 + (track[seen, 0] - 0.5) / z + ox
    y = 0.5 + (track[seen, 1] - 0.5) / z + oy
    log_r = np.log(np.maximum(track[seen, 2] / z, 1e-6))
    return min(MOTIONS, key=lambda motion: _motion_error(motion, t, x, y, log_r))


# ----------------------------------------------------------------------------- audio


def tone_amplitudes(audio: np.ndarray, frequencies: Sequence[float], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Amplitude of a sine at each frequency (the best within +-2 Hz): (N,) -> (len(frequencies),).

    A Hann-windowed spectrum zero-padded at least 4x, so the bin grid is fine enough that a tone
    between bins loses under 2% of its amplitude.
    """
    audio = np.asarray(audio, dtype=np.float64)
    window = np.hanning(len(audio))
    padded = 1 << int(math.ceil(math.log2(max(4 * len(audio), 2 * sample_rate))))
    spectrum = np.abs(np.fft.rfft(audio * window, n=padded)) * 2 / window.sum()
    bins = np.fft.rfftfreq(padded, 1 / sample_rate)
    return np.array([spectrum[np.abs(bins - f) <= TONE_SEARCH_HZ].max() for f in frequencies])


def sounding_colours(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> frozenset[str]:
    """Colours whose tone is present: amplitude at its frequency above a quarter of the spec's."""
    if len(audio) < sample_rate // 20:
        return frozenset()
    amplitudes = tone_amplitudes(audio, [COLOURS[name][1] for name in COLOUR_NAMES], sample_rate)
    return frozenset(name for name, amplitude in zip(COLOUR_NAMES, amplitudes) if amplitude > TONE_THRESHOLD)


def count_clicks(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int:
    """Number of short noise bursts: 5 ms windows of energy above 1.5 kHz, merged within 30 ms."""
    audio = np.asarray(audio, dtype=np.float64)
    spectrum = np.fft.rfft(audio)
    spectrum[np.fft.rfftfreq(len(audio), 1 / sample_rate) < CLICK_CUTOFF_HZ] = 0
    high = np.fft.irfft(spectrum, n=len(audio))
    hop = sample_rate // 200
    windows = len(high) // hop
    if windows == 0:
        return 0
    rms = np.sqrt((high[: windows * hop].reshape(windows, hop) ** 2).mean(axis=1))
    loud = np.nonzero(rms > CLICK_THRESHOLD)[0]
    if len(loud) == 0:
        return 0
    gaps = np.diff(loud) * hop / sample_rate > CLICK_MERGE_SECONDS
    return 1 + int(gaps.sum())


# ----------------------------------------------------------------------------- fidelity


def first_frame_psnr(video: VideoLike, image: VideoLike) -> float:
    """PSNR of a clip's first frame against an image given as a one-frame clip."""
    return psnr(to_uint8_frames(video)[:1], to_uint8_frames(image)[:1])


# ----------------------------------------------------------------------------- whole clips


def observe(video: VideoLike, audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE) -> Observation:
    """Recover everything the spec lists from a clip's pixels and (optional) samples.

    video: (T, H, W, 3) uint8 or (3, T, H, W) float in [-1, 1]; audio: (N,) mono.
    """
    frames = to_uint8_frames(video)
    count, size = frames.shape[0], frames.shape[1]
    if frames.shape[2] != size:
        raise ValueError(f"observe: Shapes World clips are square, got {frames.shape[2]}x{size} pixels")
    object_mask = np.zeros(frames.shape[:3], dtype=bool)
    pending = []
    for colour, sightings in _find_objects(frames):
        track = np.full((count, 3), np.nan)
        frame_shapes = [""] * count
        for t, alpha, box in sightings:
            object_mask[t][box] |= alpha > 0.05
            frame_shapes[t], cx, cy, radius = _classify_shape(alpha, box, size)
            track[t] = (cx, cy, radius)
        shape = Counter(reading for reading in frame_shapes if reading).most_common(1)[0][0]  # ties: the earliest seen
        # radius from the winning shape's area formula, for every frame
        for t, alpha, _ in sightings:
            track[t, 2] = math.sqrt(float(alpha.sum()) / _AREA_PER_R2[shape]) / size
        first = track[~np.isnan(track[:, 0])][0]
        size_class = "large" if first[2] > SIZE_THRESHOLD else "small"
        area = float(np.mean([sighting.alpha.sum() for sighting in sightings]))
        pending.append((COLOUR_NAMES[colour], shape, size_class, track, area, tuple(frame_shapes)))
    camera = estimate_camera(frames, object_mask)
    objects = [
        ObjectObservation(colour, shape, size_class, classify_motion(track, camera), track, area, frame_shapes)
        for colour, shape, size_class, track, area, frame_shapes in pending
    ]
    objects.sort(key=lambda obj: -obj.area)
    observation = Observation(objects=objects, camera=camera, frames=count)
    if audio is not None:
        samples = np.asarray(audio, dtype=np.float64).reshape(-1)
        observation.audio_colours = sounding_colours(samples, sample_rate)
        observation.clicks = count_clicks(samples, sample_rate)
    return observation


def score_clip(observation: Observation, expected: SceneDescription) -> dict[str, tuple[int, int]]:
    """(correct, total) per attribute for one clip against what its caption says.

    Object attributes count per captioned object; each is matched to the observed object of
    its colour, or else to the largest unmatched one. An object with no match is all wrong.
    `all_right` is 1 when every visual attribute of the clip is right. A one-frame clip (an
    image) is not scored on motion or camera.
    """
    remaining = list(observation.objects)
    matches = []
    for wanted in expected.objects:
        match = next((obj for obj in remaining if obj.colour == wanted.colour), None)
        if match is None and remaining:
            match = remaining[0]
        if match is not None:
            remaining.remove(match)
        matches.append((wanted, match))
    total = len(expected.objects)
    scores: dict[str, tuple[int, int]] = {"count": (int(len(observation.objects) == total), 1)}
    for attribute in ("colour", "shape", "size", "motion"):
        right = sum(
            match is not None and getattr(match, attribute) == getattr(wanted, attribute) for wanted, match in matches
        )
        scores[attribute] = (right, total)
    if observation.frames >= 2:
        scores["camera"] = (int(observation.camera == expected.camera), 1)
    else:  # an image shows neither motion nor camera
        del scores["motion"]
    scores["all_right"] = (int(all(right == total for right, total in scores.values())), 1)
    if observation.audio_colours is not None:
        colours = frozenset(obj.colour for obj in expected.objects)
        scores["audio_colour"] = (int(observation.audio_colours == colours), 1)
        bounces = any(obj.motion == "bounce" for obj in expected.objects)
        clicks = len(bounce_frames(observation.frames)) if bounces else 0
        scores["audio_clicks"] = (int(observation.clicks == clicks), 1)
    return scores


@dataclass
class EvalReport:
    """Accuracy per attribute over a set of clips. `totals[a]` = (correct, total)."""

    clips: int = 0
    totals: dict[str, list[int]] = field(default_factory=dict)

    def add(self, scores: dict[str, tuple[int, int]]) -> None:
        self.clips += 1
        for name, (right, total) in scores.items():
            counts = self.totals.setdefault(name, [0, 0])
            counts[0] += right
            counts[1] += total

    def accuracy(self) -> dict[str, float]:
        order = VISUAL_ATTRIBUTES + ("all_right",) + AUDIO_ATTRIBUTES
        return {name: self.totals[name][0] / self.totals[name][1] for name in order if name in self.totals and self.totals[name][1]}

    def to_json(self) -> str:
        return json.dumps({"clips": self.clips, "accuracy": self.accuracy(), "counts": self.totals}, indent=2)


def evaluate(clips: Iterable[tuple[VideoLike, np.ndarray | None, SceneDescription]], sample_rate: int = SAMPLE_RATE) -> EvalReport:
    """Score (video, audio or None, expected description) triples; see `observe` and `score_clip`."""
    report = EvalReport()
    for video, audio, expected in clips:
        report.add(score_clip(observe(video, audio, sample_rate), expected))
    return report


def format_table(reports: dict[str, EvalReport] | Sequence[tuple[str, EvalReport]]) -> str:
    """A plain-text table: one column per report, one row per attribute."""
    items = list(reports.items()) if isinstance(reports, dict) else list(reports)
    names = [name for name in VISUAL_ATTRIBUTES + ("all_right",) + AUDIO_ATTRIBUTES if any(name in r.accuracy() for _, r in items)]
    widths = [max(12, len(label) + 2) for label, _ in items]
    lines = ["attribute".ljust(14) + "".join(label.rjust(w) for (label, _), w in zip(items, widths))]
    lines.append("-" * len(lines[0]))
    for name in names:
        cells = []
        for (_, report), w in zip(items, widths):
            value = report.accuracy().get(name)
            cells.append(("-" if value is None else f"{value:.3f}").rjust(w))
        lines.append(name.ljust(14) + "".join(cells))
    lines.append("clips".ljust(14) + "".join(str(report.clips).rjust(w) for (_, report), w in zip(items, widths)))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- folders


def _evaluate_file(job: tuple[str, str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    path, caption, name = job
    media = read_video(path, fps=FPS)
    audio = None if media.audio is None else media.audio.numpy()
    return name, score_clip(observe(media.video, audio, media.sample_rate), parse(caption))


def evaluate_folder(
    folder: str, limit: int | None = None, workers: int = 1, progress: bool = True
) -> tuple[EvalReport, list[tuple[str, list[str]]]]:
    """Score every clip of a captioned folder (captions.jsonl) against its caption.

    Returns the report and, per clip with anything wrong, (video, [wrong attributes]).
    Raises MediaError for an unreadable clip and CaptionError for a caption outside the grammar,
    each naming the file.
    """
    records = read_captions(folder)[:limit]
    root = Path(folder) if Path(folder).is_dir() else Path(folder).parent
    for record in records:
        parse(record.caption)  # fail on a bad caption before any work
    jobs = [(str(root / record.video), record.caption, record.video) for record in records]
    report, failures = EvalReport(), []
    bar = tqdm(total=len(jobs), desc="eval shapes", unit="clip", disable=not progress)

    def collect(results):
        for name, scores in results:
            report.add(scores)
            wrong = [attribute for attribute, (right, total) in scores.items() if right != total]
            if wrong:
                failures.append((name, wrong))
            bar.update()

    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            collect(pool.imap(_evaluate_file, jobs, chunksize=4))
    else:
        collect(map(_evaluate_file, jobs))
    bar.close()
    return report, failures
