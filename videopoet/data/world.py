"""The Shapes World as a training dataset, rendered on the fly (no files)."""

from __future__ import annotations

import numpy as np
import torch

from torch.utils.data import Dataset

from ..io.write import from_uint8_frames
from .clips import busiest_window
from ..world.render import render_video
from ..world.scene import sample_scene


class ShapesWorldVideos(Dataset):
    """Item i: the video of Shapes World clip (split, seed_i) as (3, frames, size, size) float in
    [-1, 1], where seed_i is drawn from (seed, i): a pure function of i, so any step's batch is
    known without replaying the run. `length` only bounds the indices (the world is endless)."""

    def __init__(self, split: str = "train", size: int = 64, frames: int = 17, seed: int = 0, length: int = 2**40):
        self.split, self.size, self.frames, self.seed, self.length = split, size, frames, seed, length

    def __len__(self) -> int:
        return self.length

    def clip_seed(self, index: int) -> int:
        return int(np.random.default_rng([self.seed, index]).integers(2**31))

    def __getitem__(self, index: int) -> torch.Tensor:
        scene = sample_scene(self.split, self.clip_seed(index))
        video = render_video(scene, self.size, self.frames)  # (T, H, W, 3) uint8
        return from_uint8_frames(video)


class CodedWorldClips(Dataset):
    """Item i: (codes (t, h, w) int64, video (3, T, H, W) in [-1, 1]) of the clip drawn with
    (seed, i) from a token shard folder of Shapes World clips: its stored video codes (e.g. a
    super-resolution stage's predictions) and its render at the folder's size, so a decoder can
    learn to turn those codes into that video. With `crop` (pixels, a multiple of
    `spatial_factor`, the tokenizer's downsampling), the same window of both, aligned to the
    code grid: the busiest (largest pixel spread) of `candidates` drawn."""

    def __init__(self, shards, spatial_factor: int, crop: int | None = None, seed: int = 0, candidates: int = 1, length: int = 2**40):
        source = shards.settings.get("source", {})
        if source.get("kind") != "shapes_world":
            raise ValueError(f"{shards.folder}: holds {source.get('kind')!r} clips; codes can be paired with their video for Shapes World clips only")
        self.size, self.frames = int(shards.settings["size"]), int(shards.settings["frames"])
        if crop is not None and (crop <= 0 or crop % spatial_factor or crop > self.size):
            raise ValueError(f"crop {crop}: must be a positive multiple of {spatial_factor}, at most the clips' {self.size}")
        self.shards, self.factor, self.crop, self.seed, self.candidates, self.length = shards, spatial_factor, crop, seed, candidates, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        clip = int(rng.integers(len(self.shards)))
        source = self.shards.sources[clip]
        codes = self.shards.field(clip, "video")
        video = from_uint8_frames(render_video(sample_scene(source["split"], source["seed"]), self.size, self.frames))
        if self.crop is None:
            return codes, video
        cells, (_, height, width) = self.crop // self.factor, codes.shape
        corners = np.stack([rng.integers(height - cells + 1, size=self.candidates), rng.integers(width - cells + 1, size=self.candidates)], axis=1)
        pixels = corners * self.factor
        best = busiest_window(video, [tuple(corner) for corner in pixels], self.crop)
        (top, left), (pixel_top, pixel_left) = corners[best], pixels[best]
        return codes[:, top : top + cells, left : left + cells], video[..., pixel_top : pixel_top + self.crop, pixel_left : pixel_left + self.crop]
