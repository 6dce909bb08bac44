"""Reading video and audio from any container PyAV can open."""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import MediaError
from .pyav import av

SAMPLE_RATE = 16_000
_TIME_EPS = 1e-6


@dataclass
class Media:
    """Decoded media.

    video: (C=3, T, H, W) float32 in [-1, 1].  audio: (N,) float32 mono at `sample_rate`, N =
    T / fps * sample_rate, or None when the file has no audio track (or it was not asked for).
    """

    video: torch.Tensor
    fps: float
    audio: torch.Tensor | None
    sample_rate: int = SAMPLE_RATE
    path: str | None = None

    @property
    def num_frames(self) -> int:
        return self.video.shape[1]

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def _as_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise ValueError(f"size={size!r}: height and width must be positive")
    return int(height), int(width)


def resize_and_crop(frame: np.ndarray, size: tuple[int, int] | None) -> torch.Tensor:
    """One RGB frame (H, W, 3) uint8 -> (3, h, w) float32 in [-1, 1].

    Scales (bilinear, antialiased) so the frame covers `size` = (h, w), then crops the centre.
    """
    image = torch.from_numpy(frame).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
    if size is None or tuple(image.shape[1:]) == size:
        return image
    height, width = image.shape[1:]
    scale = max(size[0] / height, size[1] / width)
    scaled = (max(size[0], math.ceil(height * scale - 1e-6)), max(size[1], math.ceil(width * scale - 1e-6)))
    image = F.interpolate(image[None], size=scaled, mode="bilinear", antialias=True, align_corners=False)[0]
    top = (scaled[0] - size[0]) // 2
    left = (scaled[1] - size[1]) // 2
    return image[:, top : top + size[0], left : left + size[1]].clamp_(-1.0, 1.0)


class _FrameResampler:
    """Picks, for each output time start + i / fps, the last source frame shown at that time."""

    def __init__(self, start: float, fps: float | None, size: tuple[int, int] | None):
        self.start, self.fps, self.size = start, fps, size
        self.frames: list[torch.Tensor] = []
        self.previous: tuple[float, np.ndarray] | None = None

    def _next_time(self) -> float:
        return self.start + len(self.frames) / self.fps

    def push(self, time: float, frame: np.ndarray) -> None:
        if self.fps is None:  # keep the source rate: every frame in the window
            self.frames.append(resize_and_crop(frame, self.size))
            return
        if self.previous is not None:
            while self._next_time() < time - _TIME_EPS:
                self.frames.append(resize_and_crop(self.previous[1], self.size))
        self.previous = (time, frame)

    def finish(self, end: float) -> list[torch.Tensor]:
        if self.fps is not None and self.previous is not None:
            while self._next_time() < end - _TIME_EPS:
                self.frames.append(resize_and_crop(self.previous[1], self.size))
        return self.frames


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise MediaError(path, "no such file")
    if path.is_dir():
        raise MediaError(path, "is a directory, not a media file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as error:
        raise MediaError(path, f"not a media file PyAV can open, or truncated before its index ({error})") from error


def _seconds(value: int | None, time_base) -> float | None:
    return None if value is None or time_base is None else float(value * time_base)


class _AudioCollector:
    """Decoded audio, downmixed to mono (the mean of the channels) and resampled to 16 kHz."""

    def __init__(self, origin: float):
        self.origin = origin
        self.resampler: av.AudioResampler | None = None
        self.chunks: list[np.ndarray] = []
        self.start = 0.0  # seconds after the video stream's start at which the samples begin

    def push(self, frame: av.AudioFrame) -> None:
        if self.resampler is None:
            self.resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=SAMPLE_RATE)
            self.start = float(frame.time or 0.0) - self.origin
        self.chunks.extend(chunk.to_ndarray().mean(axis=0) for chunk in self.resampler.resample(frame))

    def finish(self) -> np.ndarray:
        if self.resampler is not None:
            self.chunks.extend(chunk.to_ndarray().mean(axis=0) for chunk in self.resampler.resample(None))
        return np.concatenate(self.chunks).astype(np.float32) if self.chunks else np.zeros(0, np.float32)

    @property
    def end(self) -> float:
        return self.start + sum(len(chunk) for chunk in self.chunks) / SAMPLE_RATE


def _declared_end(container: av.container.InputContainer, stream, origin: float) -> tuple[float | None, bool]:
    """Where the file says its media ends, in seconds after the video start, and whether that
    figure is the video stream's own (else the whole container's, audio included)."""
    own = _seconds(stream.duration, stream.time_base)
    if own is not None:
        return own, True
    if container.duration is None:
        return None, False
    return (container.duration + (container.start_time or 0)) / av.time_base - origin, False


def read_video(
    path: str | os.PathLike,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    start: float = 0.0,
    duration: float | None = None,
    audio: bool = True,
) -> Media:
    """Read a video file into a float tensor, with its audio track as 16 kHz mono.

    path: any container PyAV can open.  fps: resample to this frame rate (None keeps the
    source rate).  size: an int or (height, width); frames are scaled to cover it and
    centre-cropped (None keeps the source size).  start, duration: the time window in seconds,
    counted from the first video frame.  Several audio channels are averaged.

    Raises MediaError naming the file and the reason for a missing file, a file that is not
    media, a truncated or corrupt file, a file with no video stream, or no frames in the window.
    """
    path = Path(path)
    if fps is not None and fps <= 0:
        raise ValueError(f"fps={fps!r}: must be positive")
    if start < 0 or (duration is not None and duration <= 0):
        raise ValueError(f"start={start!r}, duration={duration!r}: need start >= 0 and a positive duration")
    target_size = _as_size(size)
    end = math.inf if duration is None else start + duration
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(path, "has no video stream")
        video_stream = container.streams.video[0]
        audio_stream = container.streams.audio[0] if (audio and container.streams.audio) else None
        source_fps = float(video_stream.average_rate or video_stream.guessed_rate or 0) or None
        frame_seconds = 1.0 / (source_fps or fps or 1.0)
        origin = _seconds(video_stream.start_time, video_stream.time_base) or 0.0
        declared_end, declared_by_video = _declared_end(container, video_stream, origin)
        frames = _FrameResampler(start, fps, target_size)
        sound = _AudioCollector(origin) if audio_stream is not None else None
        last_time: float | None = None
        stopped_early = False
        if start > 0:  # jump to the keyframe before the window; formats that cannot seek decode from the top
            with contextlib.suppress(av.error.FFmpegError):
                container.seek(int((origin + start) / video_stream.time_base), stream=video_stream, backward=True)
        try:
            for packet in container.demux(*[s for s in (video_stream, audio_stream) if s is not None]):
                packet_time = _seconds(packet.pts, packet.time_base)
                if packet_time is not None and packet_time - origin > end + max(1.0, 8 * frame_seconds):
                    stopped_early = True
                    break
                for frame in packet.decode():
                    if isinstance(frame, av.AudioFrame):
                        sound.push(frame)
                        continue
                    time = float(frame.time) - origin if frame.time is not None else (last_time or 0.0) + frame_seconds
                    last_time = time
                    if time < end - _TIME_EPS and (fps is not None or time >= start - _TIME_EPS):
                        # threads=1: swscale's own slice threads can hang in a forked worker (eval shapes' pool)
                        frames.push(time, frame.to_ndarray(format="rgb24", threads=1))
        except av.error.FFmpegError as error:
            raise MediaError(path, f"corrupt or truncated after {len(frames.frames)} frames ({error})") from error
        samples = sound.finish() if sound is not None else None

    if last_time is None:
        raise MediaError(path, "has no video frames")
    video_end = last_time + frame_seconds
    if declared_end is not None and not stopped_early:
        media_end = video_end if declared_by_video or sound is None else max(video_end, sound.end)
        if media_end < min(end, declared_end) - (1.5 * frame_seconds + 0.05):
            raise MediaError(path, f"truncated: decoded {media_end:.2f} s of the {declared_end:.2f} s it declares")
    selected = frames.finish(min(end, video_end))
    if not selected:
        raise MediaError(path, f"has no video frames in [{start}, {end}) s")
    video = torch.stack(selected, dim=1)
    out_fps = fps if fps is not None else (source_fps or 1.0)
    wave = None if samples is None else _audio_window(samples, sound.start, start, video.shape[1] / out_fps)
    return Media(video=video, fps=out_fps, audio=wave, path=str(path))


def _audio_window(samples: np.ndarray, samples_start: float, start: float, seconds: float) -> torch.Tensor:
    """The part of `samples` (which begin at `samples_start` s) from `start` for `seconds`, zero-padded."""
    length = int(round(seconds * SAMPLE_RATE))
    offset = int(round((start - samples_start) * SAMPLE_RATE))
    out = np.zeros(length, dtype=np.float32)
    source = samples[max(offset, 0) : max(offset, 0) + length - max(-offset, 0)]
    out[max(-offset, 0) : max(-offset, 0) + len(source)] = source
    return torch.from_numpy(np.clip(out, -1.0, 1.0))


def probe_video(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of a file's first video stream, from its header (nothing decoded)."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(path, "has no video stream")
        stream = container.streams.video[0]
        if not stream.height or not stream.width:
            raise MediaError(path, "video stream declares no frame size")
        return stream.height, stream.width


def read_audio(path: str | os.PathLike) -> torch.Tensor:
    """The first audio track of any file PyAV can open (wav, flac, mp3, a video's soundtrack)
    as (N,) float32 mono at 16 kHz in [-1, 1]. MediaError names the file and the reason when it
    is missing, not media, corrupt, or has no audio track."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(path, "has no audio stream")
        stream = container.streams.audio[0]
        sound = _AudioCollector(origin=0.0)
        try:
            for frame in container.decode(stream):
                sound.push(frame)
        except av.error.FFmpegError as error:
            raise MediaError(path, f"corrupt or truncated audio ({error})") from error
        samples = sound.finish()
        declared = _seconds(stream.duration, stream.time_base)
        if declared is not None:  # drop the encoder's padding of the last frame (AAC, MP3)
            samples = samples[: max(1, round(declared * SAMPLE_RATE))]
    if samples.size == 0:
        raise MediaError(path, "has an empty audio stream")
    return torch.from_numpy(np.clip(samples, -1.0, 1.0))
