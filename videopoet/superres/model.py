"""Token super-resolution: a masked (non-autoregressive) transformer that fills a high-resolution
token grid from the low-resolution grid of the same clip and its text.

Each block attends inside 1-D windows along one axis (height, width, time, in turn, so three
blocks connect a neighbourhood in all three directions), then cross-attends to the text, then
runs a SwiGLU MLP. The low-resolution tokens are embedded, repeated `scale` times along height
and width, and concatenated with the high-resolution embeddings before the first block. Codes
are bit patterns (LFQ), so a code of `codebook_bits` bits is factorised into `factors` sub-codes
of `codebook_bits / factors` bits: embedded as a sum of sub-code embeddings and predicted by
one small head per sub-code (2 x 64 logits instead of 4,096 for the shipped 12-bit codes; 3 x 64
instead of 262,144 for the paper's 18 bits).

Shapes: B batch, T latent frames, H x W high-resolution grid (h x w = H / scale x W / scale
low-resolution), D width, F factors, C = 2^(codebook_bits / factors) sub-codes, L text
positions, E text-embedding size.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from ..checkpoint import load_pretrained, save_pretrained
from ..lm.model import RMSNorm
from ..pretrained import part_or_checkpoint
from .windows import AXES, merge_windows, partition_windows

CHECKPOINT_KIND = "videopoet_superres"


@dataclass
class SuperResConfig:
    """A `scale`x spatial token upsampler for `codebook_bits`-bit codes, on grids of up to
    `max_frames` x `max_height` x `max_width` high-resolution tokens."""

    codebook_bits: int = 12
    factors: int = 2
    scale: int = 2
    width: int = 128
    depth: int = 6
    heads: int = 4
    window: tuple[int, int, int] = (5, 8, 8)  # positions per window along time, height, width
    text_dim: int = 384
    max_frames: int = 5
    max_height: int = 32
    max_width: int = 32
    mlp_ratio: float = 8 / 3
    clip: dict | None = None  # what it was trained on: {"size" (low), "frames", "text_encoder", "text_length"}

    def __post_init__(self):
        self.window = tuple(self.window)
        if self.codebook_bits % self.factors:
            raise ValueError(f"codebook_bits {self.codebook_bits} does not split into {self.factors} equal factors")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} does not split into {self.heads} heads")
        if len(self.window) != 3 or min(self.window) < 1:
            raise ValueError(f"window {self.window}: three positive sizes (time, height, width)")
        if self.scale < 1:
            raise ValueError(f"scale {self.scale}: must be at least 1")

    @property
    def sub_bits(self) -> int:
        return self.codebook_bits // self.factors

    @property
    def sub_codes(self) -> int:
        """C: values of one sub-code."""
        return 2**self.sub_bits

    def axis_of_block(self, index: int) -> str:
        """Blocks attend along height, width, time, height, ..."""
        return ("height", "width", "time")[index % 3]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SuperResConfig":
        return cls(**values)


def split_codes(codes: torch.Tensor, bits: int, factors: int) -> torch.Tensor:
    """codes (...) of `bits` bits -> sub-codes (..., factors), most significant first."""
    sub_bits = bits // factors
    shifts = torch.arange(factors - 1, -1, -1, device=codes.device) * sub_bits
    return (codes.long().unsqueeze(-1) >> shifts) & (2**sub_bits - 1)


def join_codes(sub_codes: torch.Tensor, bits: int) -> torch.Tensor:
    """The inverse of `split_codes`: (..., factors) -> (...)."""
    factors = sub_codes.shape[-1]
    sub_bits = bits // factors
    shifts = torch.arange(factors - 1, -1, -1, device=sub_codes.device) * sub_bits
    return (sub_codes.long() << shifts).sum(-1)


class FactorisedEmbedding(nn.Module):
    """codes (...) -> (..., D): the sum of one embedding per sub-code."""

    def __init__(self, config: SuperResConfig):
        super().__init__()
        self.bits, self.factors = config.codebook_bits, config.factors
        self.tables = nn.Parameter(torch.randn(config.factors, config.sub_codes, config.width) * 0.02)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        sub = split_codes(codes, self.bits, self.factors)  # (..., F)
        return sum(self.tables[index][sub[..., index]] for index in range(self.factors))


class WindowAttention(nn.Module):
    """Self-attention inside 1-D windows along one axis of a (B, T, H, W, D) grid."""

    def __init__(self, config: SuperResConfig, axis: str):
        super().__init__()
        self.axis, self.heads = axis, config.heads
        self.size = config.window[AXES.index(axis)]
        self.qkv = nn.Linear(config.width, 3 * config.width, bias=False)
        self.out = nn.Linear(config.width, config.width, bias=False)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        windows, valid = partition_windows(grid, self.axis, self.size)  # (N, S, D), (N, S)
        q, k, v = rearrange(self.qkv(windows), "n s (three h k) -> three n h s k", three=3, h=self.heads)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=valid[:, None, None, :])
        attended = self.out(rearrange(attended, "n h s k -> n s (h k)"))
        return merge_windows(attended, self.axis, tuple(grid.shape[:4]))


class TextAttention(nn.Module):
    """Every grid position attends to the text embeddings (B, L, D) plus one learned null key,
    so a sample without text attends to the null key alone."""

    def __init__(self, config: SuperResConfig):
        super().__init__()
        self.heads = config.heads
        self.query = nn.Linear(config.width, config.width, bias=False)
        self.key_value = nn.Linear(config.width, 2 * config.width, bias=False)
        self.null = nn.Parameter(torch.zeros(1, 1, config.width))
        self.out = nn.Linear(config.width, config.width, bias=False)

    def forward(self, grid: torch.Tensor, text: torch.Tensor, text_valid: torch.Tensor) -> torch.Tensor:
        batch, time, height, width, _ = grid.shape
        keys = torch.cat([self.null.expand(batch, 1, -1).to(text.dtype), text], dim=1)  # (B, 1 + L, D)
        valid = F.pad(text_valid, (1, 0), value=True)  # (B, 1 + L)
        q = rearrange(self.query(grid), "b t h w (n k) -> b n (t h w) k", n=self.heads)
        k, v = rearrange(self.key_value(keys), "b l (two n k) -> two b n l k", two=2, n=self.heads)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=valid[:, None, None, :])
        return self.out(rearrange(attended, "b n (t h w) k -> b t h w (n k)", t=time, h=height, w=width))


class Block(nn.Module):
    """grid (B, T, H, W, D) -> same: windowed self-attention, text cross-attention, SwiGLU,
    each pre-norm and residual."""

    def __init__(self, config: SuperResConfig, axis: str):
        super().__init__()
        hidden = int(config.width * config.mlp_ratio)
        self.window_norm, self.window_attention = RMSNorm(config.width), WindowAttention(config, axis)
        self.text_norm, self.text_attention = RMSNorm(config.width), TextAttention(config)
        self.mlp_norm = RMSNorm(config.width)
        self.gate_and_up = nn.Linear(config.width, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, config.width, bias=False)

    def forward(self, grid: torch.Tensor, text: torch.Tensor, text_valid: torch.Tensor) -> torch.Tensor:
        grid = grid + self.window_attention(self.window_norm(grid))
        grid = grid + self.text_attention(self.text_norm(grid), text, text_valid)
        gate, up = self.gate_and_up(self.mlp_norm(grid)).chunk(2, dim=-1)
        return grid + self.down(F.silu(gate) * up)


class SuperResTransformer(nn.Module):
    """(high codes, which of them are masked, low codes, text) -> sub-code logits (B, T, H, W, F, C)."""

    def __init__(self, config: SuperResConfig):
        super().__init__()
        self.config = config
        width = config.width
        self.high_embedding = FactorisedEmbedding(config)
        self.mask_embedding = nn.Parameter(torch.zeros(width))
        self.low_embedding = FactorisedEmbedding(config)
        self.low_null = nn.Parameter(torch.zeros(width))  # the low-resolution condition, dropped
        self.input = nn.Linear(2 * width, width, bias=False)
        self.time_position = nn.Parameter(torch.randn(config.max_frames, width) * 0.02)
        self.height_position = nn.Parameter(torch.randn(config.max_height, width) * 0.02)
        self.width_position = nn.Parameter(torch.randn(config.max_width, width) * 0.02)
        self.text_projection = nn.Linear(config.text_dim, width)
        self.blocks = nn.ModuleList(Block(config, config.axis_of_block(index)) for index in range(config.depth))
        self.norm = RMSNorm(width)
        self.head = nn.Linear(width, config.factors * config.sub_codes, bias=False)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def check_grids(self, high_shape: tuple[int, ...], low: torch.Tensor) -> None:
        """Raise ValueError unless low (B, T, h, w) and the high grid (B, T, H, W) fit together
        and within the model's maximum grid."""
        config = self.config
        if low.dim() != 4:
            raise ValueError(f"low-resolution codes of shape {tuple(low.shape)}: expected (B, T, h, w)")
        batch, time, height, width = high_shape
        expected = (batch, time, height // config.scale, width // config.scale)
        if tuple(low.shape) != expected or height % config.scale or width % config.scale:
            raise ValueError(f"low-resolution grid {tuple(low.shape)} and high-resolution grid {tuple(high_shape)}: the high one must be {config.scale}x the low one in height and width")
        if time > config.max_frames or height > config.max_height or width > config.max_width:
            raise ValueError(f"high-resolution grid {time}x{height}x{width}: this model takes at most {config.max_frames}x{config.max_height}x{config.max_width}")

    def forward(
        self,
        high: torch.Tensor,
        masked: torch.Tensor,
        low: torch.Tensor,
        text: torch.Tensor,
        text_valid: torch.Tensor,
        low_dropped: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """high (B, T, H, W) codes (ignored where masked), masked (B, T, H, W) bool, low
        (B, T, h, w) codes, text (B, L, E), text_valid (B, L) bool (all False: no text),
        low_dropped (B,) bool: rows that see the null condition instead of `low`.
        Returns logits (B, T, H, W, F, C)."""
        self.check_grids(tuple(high.shape), low)
        batch, time, height, width = high.shape
        x = torch.where(masked[..., None], self.mask_embedding, self.high_embedding(high))
        condition = self.low_embedding(low)  # (B, T, h, w, D)
        if low_dropped is not None:
            condition = torch.where(low_dropped[:, None, None, None, None], self.low_null, condition)
        scale = self.config.scale
        condition = repeat(condition, "b t h w d -> b t (h sh) (w sw) d", sh=scale, sw=scale)
        x = self.input(torch.cat([x, condition], dim=-1))
        x = x + self.time_position[:time, None, None] + self.height_position[None, :height, None] + self.width_position[None, None, :width]
        text = self.text_projection(text.to(x.dtype))
        for block in self.blocks:
            x = block(x, text, text_valid)
        logits = self.head(self.norm(x))
        return rearrange(logits, "b t h w (f c) -> b t h w f c", f=self.config.factors)

    def parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors`, atomically."""
        return save_pretrained(directory, self, CHECKPOINT_KIND, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None) -> "SuperResTransformer":
        """Load a checkpoint directory, or a model directory with a `superres/` part, in eval mode."""
        config, state = load_pretrained(part_or_checkpoint("superres", directory), CHECKPOINT_KIND)
        model = cls(SuperResConfig.from_dict(config))
        model.load_state_dict({name: tensor.float() if tensor.is_floating_point() else tensor for name, tensor in state.items()})
        return model.eval()
