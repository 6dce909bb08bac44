"""Audio for training the audio tokenizer: the Shapes World's sound rendered on the fly, and the
audio of any files (wav, mp3, a video's soundtrack: speech made by `videopoet data speech`, say).
Items are (samples,) float32 waves at 16 kHz in [-1, 1], each a pure function of its index."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..io.errors import MediaError
from ..io.read import read_audio
from ..io.walk import WalkReport
from ..world.render import render_audio
from ..world.scene import sample_scene
from ..world.spec import DEFAULT_FRAMES

logger = logging.getLogger(__name__)


def _window(wave: np.ndarray | torch.Tensor, samples: int, rng: np.random.Generator) -> torch.Tensor:
    """A random `samples`-long window of `wave`, zero-padded at the end when it is shorter."""
    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.shape[0] <= samples:
        return torch.nn.functional.pad(wave, (0, samples - wave.shape[0]))
    start = int(rng.integers(wave.shape[0] - samples + 1))
    return wave[start : start + samples].clone()


class ShapesWorldAudio(Dataset):
    """Item i: a `samples`-long window of the sound of Shapes World clip (split, seed_i), a
    clip of `frames` frames; seed_i and the window are drawn from (seed, i)."""

    def __init__(self, split: str = "train", samples: int = 16_000, frames: int = DEFAULT_FRAMES, seed: int = 0, length: int = 2**40):
        if samples < 1:
            raise ValueError(f"ShapesWorldAudio: samples={samples} must be positive")
        self.split, self.samples, self.frames, self.seed, self.length = split, samples, frames, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index, 3])
        scene = sample_scene(self.split, int(rng.integers(2**31)))
        return _window(render_audio(scene, self.frames), self.samples, rng)


class AudioFileClips(Dataset):
    """Item i: a `samples`-long window of one of `paths` (files chosen in proportion to their
    length), drawn from (seed, i). Every file is decoded once, at 16 kHz mono, into memory;
    files that cannot be read are skipped, logged and listed in `report`."""

    def __init__(
        self,
        paths: Iterable[str | os.PathLike],
        samples: int = 16_000,
        seed: int = 0,
        length: int = 2**40,
        report: WalkReport | None = None,
        progress: bool = True,
    ):
        if samples < 1:
            raise ValueError(f"AudioFileClips: samples={samples} must be positive")
        self.samples, self.seed, self.length = samples, seed, length
        self.report = report if report is not None else WalkReport()
        self.waves: list[torch.Tensor] = []
        for path in tqdm(list(paths), desc="reading audio", unit="file", disable=not progress):
            try:
                self.waves.append(read_audio(path))
            except MediaError as error:
                logger.warning("skipping %s", error)
                self.report.skipped.append((str(path), error.reason))
                continue
            self.report.read.append(str(path))
        if not self.waves:
            raise ValueError(f"AudioFileClips: no readable audio among the given files ({self.report.summary()})")
        lengths = np.array([wave.shape[0] for wave in self.waves], dtype=np.float64)
        self.probabilities = lengths / lengths.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index, 4])
        wave = self.waves[int(rng.choice(len(self.waves), p=self.probabilities))]
        return _window(wave, self.samples, rng)
