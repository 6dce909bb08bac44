"""Training the video tokenizer: reconstruction, LFQ losses and, after a warm-up, a 3D
patch discriminator (hinge loss), as in MAGVIT-v2 (no perceptual loss: no weights on disk)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..checkpoint import save_model_files
from ..tokenizers.magvit import CHECKPOINT_KIND, TokenizerOutput, VideoTokenizer


class Discriminator3d(nn.Module):
    """A patch discriminator over space-time: (B, 3, T, H, W) -> (B, 1, t, h, w) logits."""

    def __init__(self, channels: int = 32, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv3d(3, channels, 3, padding=1), nn.LeakyReLU(0.2)]
        width = channels
        for index in range(layers):
            wider = min(width * 2, channels * 8)
            stride = (2 if index < 2 else 1, 2, 2)
            blocks += [nn.Conv3d(width, wider, 3, stride=stride, padding=1), nn.GroupNorm(8, wider), nn.LeakyReLU(0.2)]
            width = wider
        blocks.append(nn.Conv3d(width, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video)


@dataclass
class TokenizerLossConfig:
    """Weights of the tokenizer's losses; the adversarial ones start at `adversarial_start`."""

    l1_weight: float = 1.0
    l2_weight: float = 1.0
    adversarial_weight: float = 0.1
    adversarial_start: int = 2000
    discriminator_channels: int = 32
    discriminator_lr_scale: float = 1.0  # the discriminator's learning rate over the tokenizer's

    def __post_init__(self):
        if self.discriminator_channels < 4 or self.discriminator_channels % 4:
            raise ValueError(f"discriminator_channels={self.discriminator_channels}: must be a positive multiple of 4 (its norms take 8 groups from twice that)")
        if not self.discriminator_lr_scale > 0:
            raise ValueError(f"discriminator_lr_scale={self.discriminator_lr_scale}: must be > 0")


class TokenizerTask:
    """A TrainTask for VideoTokenizer on any dataset of (3, T, H, W) videos in [-1, 1].

    With `decoder_only`, the encoder and quantizer are frozen and only the decoder learns to
    reconstruct from the fixed codes: a cheaper second stage that sharpens a trained tokenizer
    without changing any code (token shards made with it stay valid)."""

    def __init__(
        self, tokenizer: VideoTokenizer, data: Dataset, losses: TokenizerLossConfig | None = None, decoder_only: bool = False
    ):
        self.tokenizer, self.data, self.decoder_only = tokenizer, data, decoder_only
        self.losses = losses or TokenizerLossConfig()
        self.discriminator = Discriminator3d(self.losses.discriminator_channels)
        self._fake: torch.Tensor | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {"tokenizer": self.tokenizer, "discriminator": self.discriminator}

    def phases(self) -> list[str]:
        return ["tokenizer", "discriminator"]

    def parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase == "tokenizer" and self.decoder_only:
            return self.tokenizer.decoder.parameters()
        return self.modules()[phase].parameters()

    def dataset(self) -> Dataset:
        return self.data

    def lr_scale(self, phase: str) -> float:
        return self.losses.discriminator_lr_scale if phase == "discriminator" else 1.0

    def _adversarial(self, step: int) -> bool:
        return self.losses.adversarial_weight > 0 and step >= self.losses.adversarial_start

    def loss(self, phase: str, batch: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]] | None:
        if phase == "discriminator":
            if not self._adversarial(step) or self._fake is None:
                return None
            real, fake = self.discriminator(batch), self.discriminator(self._fake)
            loss = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
            return loss, {"discriminator": loss.item()}
        output = self._decode_frozen_codes(batch) if self.decoder_only else self.tokenizer(batch)
        reconstruction = output.reconstruction.float()
        l1 = F.l1_loss(reconstruction, batch)
        l2 = F.mse_loss(reconstruction, batch)
        loss = self.losses.l1_weight * l1 + self.losses.l2_weight * l2 + output.entropy_loss + output.commitment_loss
        figures = {
            "l1": l1.item(),
            "l2": l2.item(),
            "psnr": (10 * torch.log10(4.0 / l2.detach().clamp_min(1e-10))).item(),
            "entropy": output.entropy_loss.item(),
            "commitment": output.commitment_loss.item(),
        }
        self._fake = None
        if self._adversarial(step):
            generator = -self.discriminator(output.reconstruction).mean()
            loss = loss + self.losses.adversarial_weight * generator
            figures["generator"] = generator.item()
            self._fake = output.reconstruction.detach()
        figures["loss"] = loss.item()
        return loss, figures

    def _decode_frozen_codes(self, batch: torch.Tensor) -> TokenizerOutput:
        codes = self.tokenizer.encode(batch)  # no gradient: the codes are fixed
        latent = self.tokenizer.quantizer.codes_to_latent(codes).to(batch.dtype)
        zero = batch.new_zeros(())
        return TokenizerOutput(self.tokenizer.decoder(latent), codes, zero, zero)

    def export(self, directory: Path) -> None:
        save_model_files(directory, self.tokenizer, CHECKPOINT_KIND, self.tokenizer.config.to_dict())
