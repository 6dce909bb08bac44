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
from ..metrics import log_mel_spectrogram, si_snr
from ..tokenizers.soundstream import CHECKPOINT_KIND, AudioTokenizer


@dataclass
class AudioLossConfig:
    """Weights of the codec's losses. The mel loss is the mean over FFT sizes `mel_scales` (those
    no longer than the training windows) of the L1 distance between log-mel spectrograms
    (n_fft / 4 mels, at most 80)."""

    l1_weight: float = 0.1
    mel_weight: float = 1.0
    mel_scales: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)


def multiscale_mel_loss(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int, scales: Iterable[int]) -> torch.Tensor:
    """Mean over `scales` of |log-mel(estimate) - log-mel(reference)|, waves (B, N); FFT sizes
    longer than the waves are left out."""
    usable = [n_fft for n_fft in scales if n_fft <= reference.shape[-1]]
    if not usable:
        raise ValueError(f"waves of {reference.shape[-1]} samples are shorter than every mel FFT size {tuple(scales)}")
    losses = []
    for n_fft in usable:
        mels = min(80, n_fft // 4)
        losses.append(
            F.l1_loss(log_mel_spectrogram(estimate, sample_rate, n_fft, mels), log_mel_spectrogram(reference, sample_rate, n_fft, mels))
        )
    return torch.stack(losses).mean()


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
            "codes_used": float(self.tokenizer.quantizer.usage_share().mean()),
            "loss": loss.item(),
        }
        return loss, figures

    def export(self, directory: Path) -> None:
        save_model_files(directory, self.tokenizer, CHECKPOINT_KIND, self.tokenizer.config.to_dict())
