"""The tokenizing pass: clips (Shapes World or a captioned folder) -> token shards.

Each clip gives video codes, audio codes, the codes of its optical-flow and edge-map videos (the
stylization conditions) and its caption's text embeddings; `data.shards` stores them. A pass may
make only some of the code fields (video always), skipping the work of the others.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io.errors import MediaError
from ..io.read import read_video
from ..io.write import from_uint8_frames
from ..tokenizers import AudioTokenizer, VideoTokenizer
from ..tokenizers.text import TextEncoder
from ..world.render import render_clip
from ..world.spec import FPS, SAMPLE_RATE, check_split
from .captions import read_captions
from .shards import CODE_FIELDS, TokenizedClip, check_fields, write_token_shards
from .structure import optical_flow_video, structure_video


@dataclass
class RawClip:
    """video: (T, H, W, 3) uint8; audio: (T / fps * 16000,) float32 in [-1, 1]; flow and
    structure: its (T, H, W, 3) uint8 condition videos, once `with_conditions` made them."""

    video: np.ndarray
    audio: np.ndarray
    caption: str
    source: dict
    flow: np.ndarray | None = None
    structure: np.ndarray | None = None


def with_conditions(clip: RawClip | None, fields: Sequence[str]) -> RawClip | None:
    """`clip` with the condition videos the code `fields` need (CPU work, done once per clip)."""
    if clip is not None and "flow" in fields and clip.flow is None:
        clip.flow = optical_flow_video(clip.video)
    if clip is not None and "structure" in fields and clip.structure is None:
        clip.structure = structure_video(clip.video)
    return clip


class WorldSource:
    """Shapes World clips (split, seed_start + i), i < count, with their training captions."""

    def __init__(self, split: str, count: int, seed_start: int = 0, size: int = 64, frames: int = 17):
        check_split(split)
        self.split, self.count, self.seed_start, self.size, self.frames = split, count, seed_start, size, frames

    def settings(self) -> dict:
        return {"kind": "shapes_world", "split": self.split, "seed_start": self.seed_start}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> RawClip:
        seed = self.seed_start + index
        clip = render_clip(self.split, seed, self.size, self.frames)
        return RawClip(clip.video, clip.audio, clip.caption, {"split": self.split, "seed": seed})


class FolderSource:
    """The first `frames` frames (at 8 fps, centre-cropped to size x size) and their soundtrack
    of each video listed in a folder's captions.jsonl. A clip that cannot be read or is too
    short is skipped with a warning naming the file."""

    def __init__(self, folder: str | os.PathLike, size: int = 64, frames: int = 17):
        self.folder, self.size, self.frames = Path(folder), size, frames
        self.records = read_captions(self.folder)
        if not self.records:
            raise ValueError(f"{self.folder}: captions.jsonl lists no video")

    def settings(self) -> dict:
        return {"kind": "folder", "folder": str(self.folder.resolve()), "clips": len(self.records)}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> RawClip | None:
        record = self.records[index]
        path = self.folder / record.video
        seconds = self.frames / FPS
        try:
            media = read_video(path, fps=FPS, size=self.size, duration=seconds)
        except MediaError as error:
            warnings.warn(f"skipped {path}: {error.reason}", stacklevel=2)
            return None
        if media.num_frames < self.frames:
            warnings.warn(f"skipped {path}: {media.num_frames} frames at {FPS} fps, need {self.frames}", stacklevel=2)
            return None
        video = ((media.video[:, : self.frames].permute(1, 2, 3, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        samples = round(seconds * SAMPLE_RATE)
        audio = np.zeros(samples, dtype=np.float32)
        if media.audio is not None:
            wave = media.audio.numpy().reshape(-1)[:samples]
            audio[: len(wave)] = wave
        return RawClip(video, audio, record.caption, {"video": record.video})


class ClipTokenizer:
    """Turns raw clips into TokenizedClips with the given tokenizers and text encoder, making
    the code fields in `fields` (the others are None)."""

    def __init__(self, video: VideoTokenizer, audio: AudioTokenizer, text: TextEncoder, device: str | torch.device = "cpu", fields: Sequence[str] = CODE_FIELDS):
        self.video, self.audio, self.text = video.to(device).eval(), audio.to(device).eval(), text
        self.device = torch.device(device)
        self.fields = check_fields(fields)

    def settings(self) -> dict:
        return {
            "fields": list(self.fields),
            "video_codes": self.video.codebook_size,
            "video_tokenizer": self.video.config.to_dict(),
            "audio_codes": self.audio.config.codebook_size,
            "audio_levels": self.audio.config.levels,
            "audio_tokenizer": self.audio.config.to_dict(),
            "text_encoder": self.text.name,
            "text_length": self.text.max_tokens,
            "text_dim": self.text.dim,
        }

    def _encode_videos(self, frames: list[np.ndarray]) -> np.ndarray:
        batch = torch.stack([from_uint8_frames(video) for video in frames]).to(self.device)
        return self.video.encode(batch).cpu().numpy()

    @torch.no_grad()
    def __call__(self, clips: Sequence[RawClip | None]) -> list[TokenizedClip]:
        clips = [with_conditions(clip, self.fields) for clip in clips if clip is not None]
        if not clips:
            return []
        videos = self._encode_videos([clip.video for clip in clips])
        none = [None] * len(clips)
        flows = self._encode_videos([clip.flow for clip in clips]) if "flow" in self.fields else none
        structures = self._encode_videos([clip.structure for clip in clips]) if "structure" in self.fields else none
        audio = none
        if "audio" in self.fields:
            waves = torch.from_numpy(np.stack([clip.audio for clip in clips])).to(self.device)
            audio = self.audio.encode(waves).cpu().numpy()
        text = self.text([clip.caption for clip in clips])
        return [
            TokenizedClip(
                video=videos[row],
                audio=audio[row],
                flow=flows[row],
                structure=structures[row],
                text=text.embeddings[row].cpu().numpy(),
                text_mask=text.mask[row].cpu().numpy(),
                caption=clip.caption,
                source=clip.source,
            )
            for row, clip in enumerate(clips)
        ]


def tokenize_source(
    source: WorldSource | FolderSource,
    tokenizer: ClipTokenizer,
    out: str | os.PathLike,
    shard_size: int = 256,
    batch_size: int = 8,
    progress: bool = True,
    workers: int = 0,
) -> Path:
    """Tokenize every clip of `source` into token shards in `out` (resumable). With `workers`
    > 0, that many processes read or render the clips and make their condition videos (the CPU
    work), while this one runs the tokenizers: the same shards, sooner on a GPU machine."""
    settings = {"source": source.settings(), "size": source.size, "frames": source.frames, **tokenizer.settings()}

    def write(load: Callable[[list[int]], list[RawClip | None]]) -> Path:
        return write_token_shards(out, len(source), lambda indices: tokenizer(load(indices)), settings, shard_size=shard_size, batch_size=batch_size, progress=progress)

    if workers < 1:
        return write(lambda indices: [source[index] for index in indices])
    with multiprocessing.get_context("fork").Pool(workers, initializer=_serve, initargs=(source, tokenizer.fields)) as pool:
        return write(lambda indices: pool.map(_prepared_clip, indices))


_SERVED: tuple[WorldSource | FolderSource, Sequence[str]] | None = None  # a worker's source and fields


def _serve(source: WorldSource | FolderSource, fields: Sequence[str]) -> None:
    global _SERVED
    _SERVED = (source, fields)


def _prepared_clip(index: int) -> RawClip | None:
    source, fields = _SERVED
    return with_conditions(source[index], fields)
