"""Task recipes: how one tokenized clip becomes a training example of each task.

A clip's tokens (`ClipTokens`) are its video codes, audio codes and, for stylization, the codes of
its optical-flow and structure videos. `make_example(task, clip, rng)` cuts them into what the
task conditions on and what it must produce; the random choices (how many latent frames a
continuation keeps, which box inpainting masks) come from `rng`, so an example is a pure
function of the clip and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .sequences import MASKED, TaskExample

TEXT_TASKS = frozenset({"text_to_video", "text_to_image", "image_to_video", "inpainting", "outpainting", "stylization"})
AUDIO_TASKS = frozenset({"video_to_audio", "audio_to_video", "audio_video_continuation"})


@dataclass
class ClipTokens:
    """video, flow, structure: (t, h, w) codes; audio: (levels, frames) codes."""

    video: torch.Tensor
    audio: torch.Tensor | None = None
    flow: torch.Tensor | None = None
    structure: torch.Tensor | None = None


def audio_split(latent_frames: int, total_latent_frames: int, audio_frames: int, temporal_factor: int = 4) -> int:
    """Audio frames that play during the video frames of the first `latent_frames` latent frames
    (1 + temporal_factor * (k - 1) of the 1 + temporal_factor * (t - 1) frames), rounded."""
    shown = 1 + temporal_factor * (latent_frames - 1)
    total = 1 + temporal_factor * (total_latent_frames - 1)
    return round(audio_frames * shown / total)


def random_box(rng: np.random.Generator, height: int, width: int, low: float, high: float) -> tuple[slice, slice]:
    """A random rectangle whose sides are between low and high times the grid's."""
    h = int(rng.integers(max(1, round(low * height)), max(1, round(high * height)) + 1))
    w = int(rng.integers(max(1, round(low * width)), max(1, round(high * width)) + 1))
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    return slice(top, top + h), slice(left, left + w)


def inpainting_condition(video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(t, h, w) codes with a random box (a quarter to half of each side) masked in every frame."""
    rows, cols = random_box(rng, video.shape[1], video.shape[2], 0.25, 0.5)
    masked = video.clone()
    masked[:, rows, cols] = MASKED
    return masked


def outpainting_condition(video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(t, h, w) codes with everything outside a random box (half to three quarters of each side) masked."""
    rows, cols = random_box(rng, video.shape[1], video.shape[2], 0.5, 0.75)
    masked = torch.full_like(video, MASKED)
    masked[:, rows, cols] = video[:, rows, cols]
    return masked


def _require(clip: ClipTokens, task: str, *parts: str) -> None:
    missing = [part for part in parts if getattr(clip, part) is None]
    if missing:
        raise ValueError(f"{task} needs the clip's {' and '.join(missing)} tokens (tokenize with them)")


def make_example(task: str, clip: ClipTokens, rng: np.random.Generator) -> TaskExample:
    """The `task` example cut from `clip` (see the module docstring)."""
    video = clip.video
    t = video.shape[0]
    if task in ("image_to_video", "frame_continuation", "audio_video_continuation") and t < 2:
        raise ValueError(f"{task} needs a clip of at least 2 latent frames, got {t}")
    if task in AUDIO_TASKS:
        _require(clip, task, "audio")
    text = task in TEXT_TASKS
    if task == "text_to_video" or task == "unconditional_video":
        return TaskExample(task, text, output_video=video)
    if task == "text_to_image":
        return TaskExample(task, text, output_video=video[:1])
    if task == "image_to_video":
        return TaskExample(task, text, [video[:1]], output_video=video[1:])
    if task == "frame_continuation":
        kept = int(rng.integers(1, t))
        return TaskExample(task, text, [video[:kept]], output_video=video[kept:])
    if task == "inpainting":
        return TaskExample(task, text, [inpainting_condition(video, rng)], output_video=video)
    if task == "outpainting":
        return TaskExample(task, text, [outpainting_condition(video, rng)], output_video=video)
    if task == "stylization":
        _require(clip, task, "flow", "structure")
        return TaskExample(task, text, [clip.flow, clip.structure], output_video=video)
    if task == "video_to_audio":
        return TaskExample(task, text, [video], output_audio=clip.audio)
    if task == "audio_to_video":
        return TaskExample(task, text, condition_audio=clip.audio, output_video=video)
    if task == "audio_video_continuation":
        kept = int(rng.integers(1, t))
        heard = audio_split(kept, t, clip.audio.shape[1])
        return TaskExample(
            task, text, [video[:kept]], clip.audio[:, :heard], output_video=video[kept:], output_audio=clip.audio[:, heard:]
        )
    raise ValueError(f"unknown task {task!r}")
