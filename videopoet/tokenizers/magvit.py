"""The MAGVIT-v2 video tokenizer: a causal 3D CNN autoencoder with lookup-free quantization.

Causal in time: convolutions pad only on the past side, norms are per frame, and each time
downsampling halves 1 + 2k frames to 1 + k. So frame 0 is encoded alone and each later latent
frame covers the next `temporal_factor` frames: T = 1 + 4k frames give 1 + k latent frames,
an image is a one-frame video, and changing frame k changes no earlier latent frame. The
decoder mirrors it (depth-to-space / depth-to-time upsampling, dropping the first frame after
each time upsampling), with group norms whose scale and shift come from the quantized latent
(MAGVIT-v2's adaptive normalisation), so decoding latent frames 0..j gives output frames
0..1 + 4j exactly as decoding the whole clip does.

    tokenizer = VideoTokenizer(VideoTokenizerConfig.preset("shapes-64"))
    codes = tokenizer.encode(video)        # (B, 3, 17, 64, 64) in [-1, 1] -> (B, 5, 16, 16) int64
    video = tokenizer.decode(codes)        # -> (B, 3, 17, 64, 64) in [-1, 1]
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..checkpoint import load_pretrained, save_pretrained
from ..pretrained import VIDEO_TOKENIZER, part_or_checkpoint
from .lfq import LookupFreeQuantizer

CHECKPOINT_KIND = "video_tokenizer"


@dataclass
class VideoTokenizerConfig:
    """Sizes of the tokenizer. Stage i has base_channels * channel_multipliers[i] channels;
    every stage after the first halves height and width, and the first `time_downsamples`
    of those also halve time."""

    base_channels: int = 32
    channel_multipliers: tuple[int, ...] = (1, 2, 4)
    time_downsamples: int = 2
    blocks_per_stage: int = 1
    bits: int = 12
    norm_groups: int = 8
    image_size: int = 64  # the training resolution; any multiple of spatial_factor encodes
    entropy_weight: float = 0.1
    diversity_weight: float = 1.0
    commitment_weight: float = 0.25

    def __post_init__(self):
        self.channel_multipliers = tuple(self.channel_multipliers)
        if not 0 <= self.time_downsamples <= len(self.channel_multipliers) - 1:
            raise ValueError(
                f"time_downsamples={self.time_downsamples}: at most one per spatial downsampling "
                f"({len(self.channel_multipliers) - 1} here)"
            )
        for multiplier in self.channel_multipliers:
            if (self.base_channels * multiplier) % self.norm_groups:
                raise ValueError(f"{self.base_channels * multiplier} channels do not split into {self.norm_groups} norm groups")

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.channel_multipliers) - 1)

    @property
    def temporal_factor(self) -> int:
        return 2**self.time_downsamples

    @classmethod
    def preset(cls, name: str) -> "VideoTokenizerConfig":
        """Named sizes: `shapes-64` (the shipped default, 4.9M parameters, small enough to
        train on a CPU: 17x64x64 -> 5x16x16, 2^12 codes), `shapes-64-wide` (the same codes from
        a 16M-parameter model: 1.5x the channels and two residual blocks per stage; a GPU run),
        `videopoet-128` (the paper's setting: 17x128x128 -> 5x16x16, 2^18 codes) and `tiny` (tests)."""
        presets = {
            "tiny": dict(base_channels=8, channel_multipliers=(1, 2), time_downsamples=1, blocks_per_stage=1, bits=6, image_size=32),
            "shapes-64": dict(),
            "shapes-64-wide": dict(base_channels=48, blocks_per_stage=2),
            "videopoet-128": dict(
                base_channels=128, channel_multipliers=(1, 2, 2, 4), time_downsamples=2, blocks_per_stage=2, bits=18,
                norm_groups=32, image_size=128,
            ),
        }
        if name not in presets:
            raise ValueError(f"preset {name!r}: expected one of {', '.join(presets)}")
        return cls(**presets[name])

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: dict) -> "VideoTokenizerConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown video tokenizer config keys: {', '.join(sorted(unknown))}")
        return cls(**values)


class CausalConv3d(nn.Module):
    """3D convolution padded only on the past side in time (by repeating frame 0) and
    symmetrically (zeros) in space. stride: (time, height, width)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: tuple[int, int, int] = (1, 1, 1)):
        super().__init__()
        self.time_pad = kernel - 1
        self.space_pad = kernel // 2
        self.conv = nn.Conv3d(in_channels, out_channels, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W)
        if self.time_pad:
            x = torch.cat([x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1), x], dim=2)
        if self.space_pad:
            x = F.pad(x, (self.space_pad,) * 4)
        return self.conv(x)


def frame_group_norm(x: torch.Tensor, groups: int, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Group norm over each frame on its own (statistics never mix frames): (B, C, T, H, W)."""
    frames = x.shape[2]
    x = rearrange(x, "b c t h w -> (b t) c h w")
    x = F.group_norm(x, groups, weight, bias, eps=1e-6)
    return rearrange(x, "(b t) c h w -> b c t h w", t=frames)


class FrameGroupNorm(nn.GroupNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_group_norm(x, self.num_groups, self.weight, self.bias)


def expand_latent(latent: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """Spread a latent (B, d, t, h, w) over a (frames, height, width) grid causally: output frame
    f takes latent frame ceil(f / r), r = (frames - 1) / (t - 1), and space is repeated."""
    latent_frames = latent.shape[2]
    ratio = (frames - 1) // max(latent_frames - 1, 1) or 1
    index = torch.tensor([math.ceil(f / ratio) for f in range(frames)], device=latent.device).clamp_max(latent_frames - 1)
    latent = latent[:, :, index]
    latent = rearrange(latent, "b d t h w -> (b t) d h w")
    latent = F.interpolate(latent, size=(height, width), mode="nearest")
    return rearrange(latent, "(b t) d h w -> b d t h w", t=frames)


class AdaptiveFrameGroupNorm(nn.Module):
    """Per-frame group norm whose scale and shift are predicted from the quantized latent."""

    def __init__(self, channels: int, groups: int, latent_channels: int):
        super().__init__()
        self.groups = groups
        self.to_scale_shift = nn.Conv3d(latent_channels, 2 * channels, 1)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(expand_latent(latent, *x.shape[2:])).chunk(2, dim=1)
        return frame_group_norm(x, self.groups) * (1 + scale) + shift


class ResidualBlock(nn.Module):
    """norm -> SiLU -> causal conv, twice, plus a (projected) skip. With `latent_channels`
    the norms are adaptive (decoder), else plain (encoder)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, latent_channels: int | None = None):
        super().__init__()
        adaptive = latent_channels is not None
        self.norm1 = AdaptiveFrameGroupNorm(in_channels, groups, latent_channels) if adaptive else FrameGroupNorm(groups, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels)
        self.norm2 = AdaptiveFrameGroupNorm(out_channels, groups, latent_channels) if adaptive else FrameGroupNorm(groups, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels)
        self.skip = nn.Conv3d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def _norm(self, norm: nn.Module, x: torch.Tensor, latent: torch.Tensor | None) -> torch.Tensor:
        return norm(x, latent) if isinstance(norm, AdaptiveFrameGroupNorm) else norm(x)

    def forward(self, x: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self._norm(self.norm1, x, latent)))
        h = self.conv2(F.silu(self._norm(self.norm2, h, latent)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Strided causal conv: (B, C, 1 + 2k, H, W) -> (B, C', 1 + k, H/2, W/2) with `time`, else T kept."""

    def __init__(self, in_channels: int, out_channels: int, time: bool):
        super().__init__()
        self.conv = CausalConv3d(in_channels, out_channels, stride=(2 if time else 1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Causal conv to s*s*(2 or 1) times the channels, then depth-to-space (and depth-to-time,
    dropping the first frame): (B, C, 1 + k, H, W) -> (B, C', 1 + 2k, 2H, 2W) with `time`."""

    def __init__(self, in_channels: int, out_channels: int, time: bool):
        super().__init__()
        self.time_factor = 2 if time else 1
        self.conv = CausalConv3d(in_channels, out_channels * 4 * self.time_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = rearrange(self.conv(x), "b (c st sh sw) t h w -> b c (t st) (h sh) (w sw)", st=self.time_factor, sh=2, sw=2)
        return x[:, :, self.time_factor - 1 :]


class Encoder(nn.Module):
    def __init__(self, config: VideoTokenizerConfig):
        super().__init__()
        widths = [config.base_channels * m for m in config.channel_multipliers]
        self.conv_in = CausalConv3d(3, widths[0])
        self.stages = nn.ModuleList()
        for index, width in enumerate(widths):
            stage = nn.ModuleList(ResidualBlock(width, width, config.norm_groups) for _ in range(config.blocks_per_stage))
            if index + 1 < len(widths):
                stage.append(Downsample(width, widths[index + 1], time=index < config.time_downsamples))
            self.stages.append(stage)
        self.norm_out = FrameGroupNorm(config.norm_groups, widths[-1])
        self.conv_out = nn.Conv3d(widths[-1], config.bits, 1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:  # (B, 3, T, H, W) -> (B, bits, t, h, w)
        x = self.conv_in(video)
        for stage in self.stages:
            for layer in stage:
                x = layer(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, config: VideoTokenizerConfig):
        super().__init__()
        widths = [config.base_channels * m for m in config.channel_multipliers][::-1]
        stages = len(widths)
        self.conv_in = CausalConv3d(config.bits, widths[0])
        self.stages = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for index, width in enumerate(widths):
            self.stages.append(
                nn.ModuleList(ResidualBlock(width, width, config.norm_groups, config.bits) for _ in range(config.blocks_per_stage))
            )
            if index + 1 < stages:
                # mirror the encoder: its downsampling i (counted from the input) halved time if i < time_downsamples
                encoder_index = stages - 2 - index
                self.upsamples.append(Upsample(width, widths[index + 1], time=encoder_index < config.time_downsamples))
        self.norm_out = AdaptiveFrameGroupNorm(widths[-1], config.norm_groups, config.bits)
        self.conv_out = CausalConv3d(widths[-1], 3)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:  # (B, bits, t, h, w) -> (B, 3, T, H, W)
        x = self.conv_in(latent)
        for index, stage in enumerate(self.stages):
            for block in stage:
                x = block(x, latent)
            if index < len(self.upsamples):
                x = self.upsamples[index](x)
        return self.conv_out(F.silu(self.norm_out(x, latent)))


@dataclass
class TokenizerOutput:
    """reconstruction: (B, 3, T, H, W), not clamped; codes: (B, t, h, w); losses: scalars."""

    reconstruction: torch.Tensor
    codes: torch.Tensor
    entropy_loss: torch.Tensor
    commitment_loss: torch.Tensor


class VideoTokenizer(nn.Module):
    """MAGVIT-v2: video (B, 3, T, H, W) in [-1, 1] <-> codes (B, t, h, w) in [0, 2^bits)."""

    def __init__(self, config: VideoTokenizerConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = LookupFreeQuantizer(
            config.bits, config.entropy_weight, config.diversity_weight, config.commitment_weight
        )
        self.decoder = Decoder(config)

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """(t, h, w) of the codes for a (frames, height, width) video; raises ValueError if invalid."""
        time, space = self.config.temporal_factor, self.config.spatial_factor
        if frames < 1 or (frames - 1) % time:
            raise ValueError(f"video of {frames} frames: the tokenizer takes 1 + {time}k frames (1, {1 + time}, {1 + 2 * time}, ...)")
        if height % space or width % space or height < space or width < space:
            raise ValueError(f"video of {height}x{width} pixels: height and width must be multiples of {space}")
        return 1 + (frames - 1) // time, height // space, width // space

    def _check_video(self, video: torch.Tensor) -> None:
        if video.dim() != 5 or video.shape[1] != 3:
            raise ValueError(f"video of shape {tuple(video.shape)}: expected (B, 3, T, H, W)")
        self.latent_shape(*video.shape[2:])

    def forward(self, video: torch.Tensor) -> TokenizerOutput:
        self._check_video(video)
        quantized = self.quantizer(self.encoder(video))
        reconstruction = self.decoder(quantized.quantized)
        return TokenizerOutput(reconstruction, quantized.codes, quantized.entropy_loss, quantized.commitment_loss)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> (B, t, h, w) int64 codes."""
        self._check_video(video)
        return self.quantizer(self.encoder(video)).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w) int64 codes -> (B, 3, 1 + temporal_factor * (t - 1), H, W) in [-1, 1]."""
        if codes.dim() != 4:
            raise ValueError(f"codes of shape {tuple(codes.shape)}: expected (B, t, h, w)")
        latent = self.quantizer.codes_to_latent(codes).to(next(self.parameters()).dtype)
        return self.decoder(latent).clamp(-1.0, 1.0)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors`, atomically."""
        return save_pretrained(directory, self, CHECKPOINT_KIND, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None) -> "VideoTokenizer":
        """Load a tokenizer saved with `save_pretrained`, in eval mode: by default the package's
        (`videopoet/pretrained/video-tokenizer-64`); `directory` is a checkpoint directory or a
        model directory, whose `video_tokenizer/` part (the one its LM was trained on) loads."""
        path = VIDEO_TOKENIZER if directory is None else part_or_checkpoint("video_tokenizer", directory)
        config, state = load_pretrained(path, CHECKPOINT_KIND)
        model = cls(VideoTokenizerConfig.from_dict(config))
        model.load_state_dict(state)
        return model.eval()
