"""The SoundStream audio tokenizer: a 1D convolutional encoder and decoder around residual VQ.

16 kHz mono in; the encoder's strides multiply to the hop (320 samples: 50 latent frames per
second); each latent frame becomes one code per RVQ level. Any length goes in: the wave is
zero-padded at the end to a whole number of hops, and `forward` / `decode(..., length=N)`
trim the output back to N samples.

    wave (B, N) -> encoder -> latent (B, D, ceil(N / hop)) -> RVQ -> codes (B, levels, frames)
    codes -> RVQ codebooks -> latent -> decoder -> wave (B, frames * hop)
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import load_pretrained, save_pretrained
from ..pretrained import part_or_checkpoint
from .rvq import ResidualVectorQuantizer

CHECKPOINT_KIND = "audio_tokenizer"


@dataclass
class AudioTokenizerConfig:
    """channels: width of the first encoder stage, doubled after each stride; strides: the
    encoder's downsampling per stage (their product is the hop); latent_dim: width of the
    quantized latent; levels x codebook_size: the residual VQ, whose EMA codebooks decay by
    `codebook_decay` per step and restart entries used less than `dead_code_share` of the mean
    (a fast decay keeps the codebooks up with the moving encoder early in training: with 0.99
    they lagged and the codes collapsed to a handful)."""

    sample_rate: int = 16_000
    channels: int = 16
    strides: tuple[int, ...] = (4, 4, 4, 5)
    latent_dim: int = 64
    residual_units: int = 3
    levels: int = 4
    codebook_size: int = 1024
    commitment_weight: float = 1.0
    codebook_decay: float = 0.9
    dead_code_share: float = 0.1

    def __post_init__(self):
        self.strides = tuple(int(s) for s in self.strides)
        if self.channels < 1 or self.latent_dim < 1 or not self.strides or min(self.strides) < 1:
            raise ValueError(f"invalid audio tokenizer config: {self}")

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return math.prod(self.strides)

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop

    @classmethod
    def preset(cls, name: str) -> "AudioTokenizerConfig":
        """`shapes-16k`: the small shipped codec (early stride 4 keeps full-rate layers few, for
        CPU training); `soundstream`: SoundStream's widths and strides (2, 4, 5, 8)."""
        presets = {
            "shapes-16k": cls(),
            "soundstream": cls(channels=32, strides=(2, 4, 5, 8), latent_dim=256),
        }
        if name not in presets:
            raise ValueError(f"unknown audio tokenizer preset {name!r}; choose one of {sorted(presets)}")
        return presets[name]

    def to_dict(self) -> dict:
        values = asdict(self)
        values["strides"] = list(self.strides)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "AudioTokenizerConfig":
        known = {name for name in cls.__dataclass_fields__}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown audio tokenizer config keys: {sorted(unknown)}")
        return cls(**values)


class ResidualUnit(nn.Module):
    """ELU -> dilated conv (kernel 7) -> ELU -> 1x1 conv, plus the input: (B, C, N) -> (B, C, N)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.dilated = nn.Conv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(F.elu(self.dilated(F.elu(x))))


def _residual_units(channels: int, count: int) -> list[nn.Module]:
    return [ResidualUnit(channels, 3**index) for index in range(count)]


class EncoderStage(nn.Sequential):
    """Residual units at `channels`, then a strided conv to 2x the channels: N -> N / stride."""

    def __init__(self, channels: int, stride: int, units: int):
        super().__init__(
            *_residual_units(channels, units),
            nn.ELU(),
            nn.Conv1d(channels, 2 * channels, 2 * stride, stride=stride, padding=math.ceil(stride / 2)),
        )


class DecoderStage(nn.Sequential):
    """A transposed conv from 2x the channels (N -> N * stride exactly, mirroring the encoder's
    strided conv), then residual units."""

    def __init__(self, channels: int, stride: int, units: int):
        super().__init__(
            nn.ELU(),
            nn.ConvTranspose1d(2 * channels, channels, 2 * stride, stride=stride, padding=math.ceil(stride / 2), output_padding=stride % 2),
            *_residual_units(channels, units),
        )


class AudioEncoder(nn.Module):
    def __init__(self, config: AudioTokenizerConfig):
        super().__init__()
        widths = [config.channels * 2**index for index in range(len(config.strides) + 1)]
        self.conv_in = nn.Conv1d(1, widths[0], 7, padding=3)
        self.stages = nn.Sequential(
            *(EncoderStage(width, stride, config.residual_units) for width, stride in zip(widths, config.strides))
        )
        self.conv_out = nn.Conv1d(widths[-1], config.latent_dim, 3, padding=1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (B, 1, N) -> (B, D, N / hop)
        return self.conv_out(F.elu(self.stages(self.conv_in(wave))))


class AudioDecoder(nn.Module):
    def __init__(self, config: AudioTokenizerConfig):
        super().__init__()
        widths = [config.channels * 2**index for index in range(len(config.strides) + 1)]
        self.conv_in = nn.Conv1d(config.latent_dim, widths[-1], 7, padding=3)
        self.stages = nn.Sequential(
            *(
                DecoderStage(width, stride, config.residual_units)
                for width, stride in zip(reversed(widths[:-1]), reversed(config.strides))
            )
        )
        self.conv_out = nn.Conv1d(widths[0], 1, 7, padding=3)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:  # (B, D, t) -> (B, 1, t * hop)
        return self.conv_out(F.elu(self.stages(self.conv_in(latent))))


@dataclass
class AudioTokenizerOutput:
    """reconstruction: (B, N) like the input; codes: (B, levels, frames); commitment_loss: scalar."""

    reconstruction: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor


class AudioTokenizer(nn.Module):
    """SoundStream: `encode(wave (B, N)) -> codes (B, levels, ceil(N / hop))`,
    `decode(codes) -> wave (B, frames * hop)`; `forward` encodes, quantizes and decodes."""

    def __init__(self, config: AudioTokenizerConfig):
        super().__init__()
        self.config = config
        self.encoder = AudioEncoder(config)
        self.quantizer = ResidualVectorQuantizer(
            config.latent_dim,
            levels=config.levels,
            codebook_size=config.codebook_size,
            decay=config.codebook_decay,
            dead_code_share=config.dead_code_share,
            commitment_weight=config.commitment_weight,
        )
        self.decoder = AudioDecoder(config)

    def frames_for(self, samples: int) -> int:
        """Latent frames for a wave of `samples` samples."""
        return math.ceil(samples / self.config.hop)

    def _as_batch(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) or (B, 1, N) -> (B, 1, N padded to a whole number of hops)."""
        if wave.dim() == 3 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.dim() != 2 or wave.shape[1] == 0:
            raise ValueError(f"wave must be (batch, samples) or (batch, 1, samples) with samples > 0, got shape {tuple(wave.shape)}")
        if not wave.is_floating_point():
            raise ValueError(f"wave must be floating point in [-1, 1], got dtype {wave.dtype}")
        padding = self.frames_for(wave.shape[1]) * self.config.hop - wave.shape[1]
        return F.pad(wave, (0, padding)).unsqueeze(1)

    def forward(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> AudioTokenizerOutput:
        samples = wave.shape[-1]
        latent = self.encoder(self._as_batch(wave))
        quantized = self.quantizer(latent, generator)
        reconstruction = self.decoder(quantized.quantized.to(latent.dtype))[:, 0, :samples]
        return AudioTokenizerOutput(reconstruction, quantized.codes, quantized.commitment_loss)

    @torch.no_grad()
    def encode(self, wave: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """(B, N) wave in [-1, 1] at `config.sample_rate` -> (B, levels, ceil(N / hop)) int64 codes."""
        return self.quantizer.encode(self.encoder(self._as_batch(wave)), levels)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """(B, l, frames) codes of the first l levels -> (B, frames * hop) wave, or its first
        `length` samples."""
        wave = self.decoder(self.quantizer.codes_to_latent(codes))[:, 0]
        if length is not None:
            if not 0 < length <= wave.shape[1]:
                raise ValueError(f"length={length}: {codes.shape[-1]} frames decode to at most {wave.shape[1]} samples")
            wave = wave[:, :length]
        return wave

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors`, atomically."""
        return save_pretrained(directory, self, CHECKPOINT_KIND, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None) -> "AudioTokenizer":
        """Load a codec saved with `save_pretrained` (by default the shipped Shapes World one),
        in eval mode. `directory` is a checkpoint directory or a model directory with an
        `audio_tokenizer/` part."""
        config, state = load_pretrained(part_or_checkpoint("audio_tokenizer", directory), CHECKPOINT_KIND)
        model = cls(AudioTokenizerConfig.from_dict(config))
        model.load_state_dict(state)
        return model.eval()
