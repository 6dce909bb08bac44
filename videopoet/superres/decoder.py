"""The super-resolution stage's decoder: pixels from both token grids.

Two MAGVIT-v2 decoders. The low decoder turns the low-resolution grid (the input the stage was
given) into its picture, upsampled bicubically to the high size: what the low-resolution clip
already holds. The detail decoder reads the high-resolution latent (the stage's prediction:
codes as +-1 bits, or each bit's expected value in [-1, 1]) stacked with the low grid's latent,
repeated `scale` times along height and width, and adds its correction to that picture. Made
from a trained video tokenizer (`from_tokenizer`), both start from the tokenizer's decoder, the
detail decoder with its output layer at 0: the untrained decoder is bicubic upsampling of the
tokenizer's low-resolution decode, and training teaches it what the stage's bits add.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from einops import repeat
from torch import nn

from ..checkpoint import load_pretrained, save_pretrained
from ..io.write import bicubic_frames
from ..pretrained import part_or_checkpoint
from ..tokenizers import VideoTokenizer
from ..tokenizers.lfq import codes_to_bits
from ..tokenizers.magvit import Decoder, VideoTokenizerConfig

CHECKPOINT_KIND = "superres_decoder"


@dataclass
class SuperResDecoderConfig:
    """tokenizer: the config (a dict) of the video tokenizer whose codes both grids hold;
    scale: the high grid's size over the low grid's, along height and width."""

    tokenizer: dict
    scale: int = 2

    def __post_init__(self):
        if self.scale < 2:
            raise ValueError(f"scale={self.scale}: the high grid must be at least twice the low grid's size")
        self.tokenizer = VideoTokenizerConfig.from_dict(self.tokenizer).to_dict()  # refuses what the tokenizer would refuse

    @property
    def bits(self) -> int:
        return int(self.tokenizer["bits"])

    def to_dict(self) -> dict:
        return {"tokenizer": dict(self.tokenizer), "scale": self.scale}


class SuperResDecoder(nn.Module):
    """(high latent (B, bits, t, H, W), low codes (B, t, H / scale, W / scale)) -> video
    (B, 3, T, H f, W f) in about [-1, 1], f the tokenizer's spatial factor."""

    def __init__(self, config: SuperResDecoderConfig):
        super().__init__()
        self.config = config
        tokenizer = VideoTokenizerConfig.from_dict(config.tokenizer)
        self.low_decoder = Decoder(tokenizer)
        self.detail_decoder = Decoder(replace(tokenizer, bits=2 * tokenizer.bits))

    @classmethod
    def from_tokenizer(cls, tokenizer: VideoTokenizer, scale: int = 2) -> SuperResDecoder:
        """A decoder that starts as bicubic upsampling of `tokenizer`'s decode of the low grid:
        the low decoder is the tokenizer's; the detail decoder is too, widened (0 weights on the
        low grid's channels) and with its output layer at 0."""
        model = cls(SuperResDecoderConfig(tokenizer.config.to_dict(), scale))
        bits = tokenizer.config.bits
        source = tokenizer.decoder.state_dict()
        model.low_decoder.load_state_dict(source)
        state = {}
        for name, widened in model.detail_decoder.state_dict().items():
            weight = source[name]
            if weight.shape != widened.shape:  # a layer reading the latent: 2 * bits input channels
                weight = torch.cat([weight, torch.zeros_like(weight)], dim=1)
                assert weight.shape == widened.shape and widened.shape[1] == 2 * bits, name
            state[name] = torch.zeros_like(weight) if name.startswith("conv_out.") else weight
        model.detail_decoder.load_state_dict(state)
        return model

    def low_latent(self, low: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """low codes (B, t, h, w) -> their +-1 latent (B, bits, t, h, w) in like's dtype."""
        return codes_to_bits(low, self.config.bits).to(like.dtype) * 2 - 1

    def low_picture(self, low_latent: torch.Tensor) -> torch.Tensor:
        """The low grid's latent (B, bits, t, h, w) -> its decode upsampled bicubically,
        (B, 3, T, h f scale, w f scale)."""
        video = self.low_decoder(low_latent)
        return bicubic_frames(video, video.shape[-2] * self.config.scale, video.shape[-1] * self.config.scale)

    def check_grids(self, high_latent: torch.Tensor, low: torch.Tensor) -> None:
        """ValueError naming the shapes unless high_latent (B, bits, t, H, W) sits on low
        (B, t, H / scale, W / scale)."""
        bits, scale = self.config.bits, self.config.scale
        expected = (low.shape[0], bits, low.shape[1], low.shape[2] * scale, low.shape[3] * scale) if low.dim() == 4 else None
        if high_latent.dim() != 5 or tuple(high_latent.shape) != expected:
            raise ValueError(f"high latent of shape {tuple(high_latent.shape)} and low codes of shape {tuple(low.shape)}: expected (B, {bits}, t, {scale}h, {scale}w) over (B, t, h, w)")

    def forward(self, high_latent: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        self.check_grids(high_latent, low)
        low_latent = self.low_latent(low, high_latent)
        spread = repeat(low_latent, "b d t h w -> b d t (h a) (w c)", a=self.config.scale, c=self.config.scale)
        return self.low_picture(low_latent) + self.detail_decoder(torch.cat([high_latent, spread], dim=1))

    @torch.no_grad()
    def decode(self, high_latent: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """Like forward, clamped to [-1, 1], in the decoder's dtype."""
        dtype = next(self.parameters()).dtype
        return self(high_latent.to(dtype), low).clamp(-1.0, 1.0)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors`, atomically."""
        return save_pretrained(directory, self, CHECKPOINT_KIND, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> SuperResDecoder:
        """Load a checkpoint directory, or the `superres_decoder/` part of a model directory."""
        config, state = load_pretrained(part_or_checkpoint(CHECKPOINT_KIND, directory), CHECKPOINT_KIND)
        model = cls(SuperResDecoderConfig(**config))
        model.load_state_dict(state)
        return model.eval()
