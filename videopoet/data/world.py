"""The Shapes World as a training dataset, rendered on the fly (no files)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..io.write import from_uint8_frames
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


