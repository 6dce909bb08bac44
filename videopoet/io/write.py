"""Writing video: mp4 (H.264 + AAC audio), animated GIF, PNG images. Every write is atomic:
the file appears complete under its name or not at all."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .pyav import av

VideoLike = torch.Tensor | np.ndarray
MP4_SUFFIXES = (".mp4", ".m4v", ".mov")


def to_uint8_frames(video: VideoLike) -> np.ndarray:
    """Frames as (T, H, W, 3) uint8 RGB.

    Accepts a float tensor/array (C=3, T, H, W) in [-1, 1] (the layout `read_video` returns)
    or uint8 frames (T, H, W, 3) (the layout the Shapes World renders).
    """
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu()
        if video.dtype == torch.bfloat16:
            video = video.float()
        video = video.numpy()
    video = np.asarray(video)
    if video.dtype == np.uint8:
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"uint8 video of shape {video.shape}: expected (T, H, W, 3)")
        return np.ascontiguousarray(video)
    if video.ndim != 4 or video.shape[0] != 3:
        raise ValueError(f"float video of shape {video.shape}: expected (3, T, H, W) in [-1, 1]")
    frames = np.rint((np.clip(video, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.ascontiguousarray(frames.transpose(1, 2, 3, 0))


def current_umask() -> int:
    """The process umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def bicubic_frames(videos: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C, T, height, width), bicubic frame by frame, not clamped."""
    frames = videos.transpose(1, 2).flatten(0, 1)  # (B T, C, H, W)
    resized = torch.nn.functional.interpolate(frames, size=(height, width), mode="bicubic", align_corners=False)
    return resized.unflatten(0, videos.shape[:1] + videos.shape[2:3]).transpose(1, 2)


def bicubic_resize(videos: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, T, H, W) in [-1, 1] -> (B, 3, T, size, size), bicubic frame by frame, clamped."""
    return bicubic_frames(videos, size, size).clamp(-1, 1)


def from_uint8_frames(frames: np.ndarray) -> torch.Tensor:
    """The inverse of `to_uint8_frames`: (T, H, W, 3) uint8 -> (3, T, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _audio_array(audio: VideoLike) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().float().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim != 1:
        raise ValueError(f"audio of shape {audio.shape}: expected mono samples (N,) or (1, N)")
    return np.clip(audio, -1.0, 1.0)


def write_video(
    path: str | os.PathLike,
    video: VideoLike,
    fps: float,
    audio: VideoLike | None = None,
    sample_rate: int = 16_000,
    crf: int = 18,
    preset: str = "medium",
    audio_bitrate: int = 64_000,
) -> Path:
    """Write frames (and optional mono audio) to `path`.

    `.mp4`/`.m4v`/`.mov`: H.264 (yuv420p, `crf`, `preset`) with AAC audio (`audio_bitrate`)
    muxed when given.
    `.gif`: an animated GIF (no audio). video: see `to_uint8_frames`; audio: (N,) in [-1, 1].
    """
    path = Path(path)
    frames = to_uint8_frames(video)
    if fps <= 0:
        raise ValueError(f"fps={fps!r}: must be positive")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return write_gif(path, frames, fps)
    if suffix not in MP4_SUFFIXES:
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; use .mp4, .m4v, .mov or .gif")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"{path}: H.264 (yuv420p) needs an even width and height, got {width}x{height}")
    wave = None if audio is None else _audio_array(audio)
    with atomic_path(path) as temporary:
        with av.open(str(temporary), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            stream.codec_context.thread_count = 1
            audio_stream = None
            if wave is not None:
                audio_stream = container.add_stream("aac", rate=sample_rate)
                audio_stream.layout = "mono"
                audio_stream.bit_rate = audio_bitrate
                audio_stream.options = {"aac_coder": "fast"}
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
            if audio_stream is not None:
                chunk = av.AudioFrame.from_ndarray(wave[None], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = sample_rate, 0
                container.mux(audio_stream.encode(chunk))
                container.mux(audio_stream.encode())
    return path


def _gif_durations(count: int, fps: float) -> list[int]:
    """Per-frame durations in ms. GIF counts in centiseconds, so durations alternate (12, 13,
    12, 13 cs at 8 fps) so no frame starts after its true time; 2 cs is the shortest players honour."""
    starts = [math.floor(index * 100 / fps + 1e-9) for index in range(count + 1)]
    return [10 * max(2, later - earlier) for earlier, later in zip(starts, starts[1:])]


def write_gif(path: str | os.PathLike, video: VideoLike, fps: float) -> Path:
    """Write an animated GIF that loops forever (adaptive palette per frame). Identical
    consecutive frames are stored once, with their durations added up."""
    path = Path(path)
    frames = [Image.fromarray(frame) for frame in to_uint8_frames(video)]
    with atomic_path(path) as temporary:
        frames[0].save(
            temporary,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=_gif_durations(len(frames), fps),
            loop=0,
        )
    return path


def save_image(path: str | os.PathLike, image: Image.Image | np.ndarray) -> Path:
    """Write an image (PIL or (H, W, 3) uint8) as PNG, atomically."""
    path = Path(path)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")
    return path
