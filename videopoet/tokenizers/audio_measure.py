"""Measuring an audio tokenizer: SI-SNR and log-mel distance of its reconstructions, how many
codes each RVQ level uses, and whether the Shapes World evaluator still hears the right
colours (and bounce clicks) in decoded world audio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..metrics import mel_distance, si_snr
from ..world.scene import Scene
from ..world.evaluator import count_clicks, sounding_colours
from ..world.render import bounce_frames
from .soundstream import AudioTokenizer


@dataclass
class AudioFigures:
    """Means over the clips; codes_used: per level, the share of codebook entries that occur."""

    clips: int
    si_snr: float
    mel_distance: float
    codes_used: list[float]


def reconstruct_audio(
    tokenizer: AudioTokenizer, waves: Sequence[torch.Tensor], levels: int | None = None, progress: bool = False
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Encode and decode each (N,) wave with the first `levels` RVQ levels (all by default):
    (reconstructions, each (N,), codes, each (levels, frames))."""
    device = next(tokenizer.parameters()).device
    reconstructions, codes = [], []
    for wave in tqdm(waves, desc="audio tokenizer", unit="clip", disable=not progress):
        wave = torch.as_tensor(wave, dtype=torch.float32).to(device).unsqueeze(0)
        code = tokenizer.encode(wave, levels)
        reconstructions.append(tokenizer.decode(code, wave.shape[1])[0].clamp(-1, 1).cpu())
        codes.append(code[0].cpu())
    return reconstructions, codes


def audio_figures(tokenizer: AudioTokenizer, waves: Sequence[torch.Tensor], reconstructed=None) -> AudioFigures:
    """SI-SNR, mel distance and code usage of `tokenizer` on `waves` (each (N,) at its rate)."""
    reconstructions, codes = reconstructed if reconstructed is not None else reconstruct_audio(tokenizer, waves)
    rate = tokenizer.config.sample_rate
    all_codes = torch.cat(codes, dim=1)  # (levels, total frames)
    used = [len(torch.unique(level)) / tokenizer.config.codebook_size for level in all_codes]
    return AudioFigures(
        clips=len(waves),
        si_snr=float(np.mean([si_snr(r, w) for r, w in zip(reconstructions, waves)])),
        mel_distance=float(np.mean([mel_distance(r, w, rate) for r, w in zip(reconstructions, waves)])),
        codes_used=used,
    )


def world_audio_accuracy(waves: Sequence[torch.Tensor], scenes: Sequence[Scene], frames: int) -> dict[str, float]:
    """Share of clips whose audio the evaluator hears right against their scenes: the set of
    sounding colours (`audio_colour`) and the number of bounce clicks (`audio_clicks`); each
    clip is `frames` frames long."""
    colours = clicks = 0
    for wave, scene in zip(waves, scenes, strict=True):
        samples = np.asarray(wave, dtype=np.float64)
        colours += sounding_colours(samples) == frozenset(obj.colour for obj in scene.objects)
        expected = len(bounce_frames(frames)) if any(obj.motion == "bounce" for obj in scene.objects) else 0
        clicks += count_clicks(samples) == expected
    return {"audio_colour": colours / len(waves), "audio_clicks": clicks / len(waves)}
