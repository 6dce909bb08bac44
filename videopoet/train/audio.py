"""Training the audio tokenizer (SoundStream): a time-domain L1 loss, a multi-scale log-mel
loss and the RVQ commitment loss; the codebooks follow their EMA updates inside the forward."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..checkpoint import save_model_files
from ..metrics import mel_power, si_snr
from ..tokenizers.soundstream import CHECKPOINT_KIND, AudioTokenizer


@dataclass
class AudioLossConfig:
    """Weights of the codec's losses; see `multiscale_mel_loss` for the mel loss."""

    l1_weight: float = 1.0
    mel_weight: float = 1.0
    mel_scales: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)


def multiscale_mel_loss(
    estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int, scales: Iterable[int], dynamic_range_db: float = 40.0
) -> torch.Tensor:
    """Mean over FFT sizes `scales` (those no longer than the waves) of the L1 distance between
    log10 mel powers (n_fft / 4 mels, at most 80) of (B, N) waves. Both are floored `dynamic_range_db` below the reference's
    loudest bin: without a floor, the near-silent bins of pure tones dominate the loss and
    drive the output towards silence."""
    usable = [n_fft for n_fft in scales if n_fft <= reference.shape[-1]]
    if not usable:
        raise ValueError(f"waves of {reference.shape[-1]} samples are shorter than every mel FFT size {tuple(scales)}")
    losses = []
    for n_fft in usable:
        mels = min(80, n_fft // 4)
        target = mel_power(reference, sample_rate, n_fft, mels)
        floor = target.amax(dim=(1, 2), keepdim=True).clamp_min(1e-8) * 10 ** (-dynamic_range_db / 10)
        output = mel_power(estimate, sample_rate, n_fft, mels)
        losses.append(F.l1_loss(torch.log10(torch.maximum(output, floor)), torch.log10(torch.maximum(target, floor))))
    return torch.stack(losses).mean()


def _batch_code_usage(codes: torch.Tensor, codebook_size: int) -> float:
    """Distinct codes per level in a (B, levels, T) batch, as a share of the most it could hold."""
    most = min(codebook_size, codes.shape[0] * codes.shape[2])
    return sum(len(torch.unique(codes[:, level])) for level in range(codes.shape[1])) / (codes.shape[1] * most)


class AudioTokenizerTask:
    """A TrainTask for AudioTokenizer on any dataset of (samples,) waves in [-1, 1].

    Quantizer dropout and codebook restarts draw from a generator seeded by (seed, step), so a
    resumed run makes the same draws as an uninterrupted one."""

    def __init__(self, tokenizer: AudioTokenizer, data: Dataset, losses: AudioLossConfig | None = None, seed: int = 0):
        self.tokenizer, self.data, self.seed = tokenizer, data, seed
        self.losses = losses or AudioLossConfig()

    def modules(self) -> dict[str, nn.Module]:
        return {"tokenizer": self.tokenizer}

    def phases(self) -> list[str]:
        return ["tokenizer"]

    def parameters(self, phase: str) -> Iterable[nn.Parameter]:
        return self.tokenizer.parameters()

    def dataset(self) -> Dataset:
        return self.data

    def loss(self, phase: str, batch: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        output = self.tokenizer(batch, generator)
        reconstruction = output.reconstruction.float()
        l1 = F.l1_loss(reconstruction, batch)
        mel = multiscale_mel_loss(reconstruction, batch, self.tokenizer.config.sample_rate, self.losses.mel_scales)
        loss = self.losses.l1_weight * l1 + self.losses.mel_weight * mel + output.commitment_loss
        figures = {
            "l1": l1.item(),
            "mel": mel.item(),
            "commitment": output.commitment_loss.item(),
            "si_snr": si_snr(reconstruction.detach(), batch),
            "codes_used": _batch_code_usage(output.codes, self.tokenizer.config.codebook_size),
            "loss": loss.item(),
        }
        return loss, figures

    def export(self, directory: Path) -> None:
        save_model_files(directory, self.tokenizer, CHECKPOINT_KIND, self.tokenizer.config.to_dict())
