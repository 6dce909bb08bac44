"""The decoder-only transformer: RMSNorm, rotary positions, SwiGLU, fused attention, prefix-LM
mask, text embeddings projected into the width, and a static KV cache for generation.

Shapes: B batch, S sequence, D width, H heads, K = D / H head size, V vocabulary, L text slot,
E text-embedding size.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from ..checkpoint import load_pretrained, save_pretrained
from ..pretrained import part_or_checkpoint
from .sequences import TEXT_START
from .vocabulary import Vocabulary

CHECKPOINT_KIND = "videopoet_lm"
KEY_BLOCK = 64  # cached attention reads the keys up to a multiple of this (see _visible_keys)


@dataclass
class LMConfig:
    """A transformer over `vocabulary`, reading text embeddings of size `text_dim` in a slot of
    `text_length` positions, for sequences of up to `max_length` tokens."""

    vocabulary: Vocabulary
    width: int = 256
    depth: int = 4
    heads: int = 4
    text_dim: int = 384
    text_length: int = 32
    max_length: int = 1024
    rope_base: float = 10000.0
    mlp_multiple: int = 64
    clip: dict | None = None  # what the model was trained on: {"size", "frames", "text_encoder"}

    def __post_init__(self):
        if isinstance(self.vocabulary, dict):
            self.vocabulary = Vocabulary.from_dict(self.vocabulary)
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.heads} heads of an even size")

    @property
    def mlp_width(self) -> int:
        """SwiGLU hidden size: 8/3 of the width (the parameter count of a 4x MLP), rounded up."""
        hidden = int(8 * self.width / 3)
        return self.mlp_multiple * math.ceil(hidden / self.mlp_multiple)

    PRESETS = {
        # name: (width, depth, heads)
        "tiny": (128, 4, 4),
        "shapes-64": (192, 6, 4),
        "small": (384, 8, 6),
        "300m": (1024, 24, 16),
        "1b": (2048, 20, 16),
        "8b": (4096, 40, 32),
    }

    @classmethod
    def preset(cls, name: str, vocabulary: Vocabulary, **overrides) -> "LMConfig":
        """`tiny` (CPU tests, the shipped 32x32 Shapes World model, and the 64x64 one that
        scripts/train_lm_gpu.sh trains by default: the one size whose 64x64 clips generate
        within 15 s on a 2-core CPU), `shapes-64` (more capacity at 64x64: 5.9 M parameters
        with the Shapes World vocabulary, 11 MiB in float16, about 22 s a clip on that CPU),
        `small`, and the paper's
        sizes `300m`, `1b`, `8b` (as configs: counts are of the transformer without embeddings)."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown LM preset {name!r}; presets: {', '.join(cls.PRESETS)}")
        width, depth, heads = cls.PRESETS[name]
        return cls(vocabulary, width=width, depth=depth, heads=heads, **overrides)

    def to_dict(self) -> dict:
        values = asdict(self)
        values["vocabulary"] = self.vocabulary.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "LMConfig":
        return cls(**values)


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x / sqrt(mean(x^2) + eps) * weight over the last dimension (one fused op)."""
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


def rotary_tables(positions: int, head_size: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin: (positions, head_size) for rotary embeddings, laid out for `apply_rotary`: each
    pair (2i, 2i+1) turns by the same angle, cos repeated over the pair and sin as (-sin, +sin)."""
    frequencies = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)
    angles = torch.outer(torch.arange(positions, dtype=torch.float32), frequencies)  # (positions, head_size / 2)
    cos = repeat(angles.cos(), "s k -> s (k two)", two=2)
    sin = rearrange(torch.stack((-angles.sin(), angles.sin()), dim=-1), "s k two -> s (k two)")
    return cos, sin


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (..., K) with cos, sin broadcastable to it (see `rotary_tables`). Rotates each pair
    (x[2i], x[2i+1]) to (x[2i] cos - x[2i+1] sin, x[2i+1] cos + x[2i] sin), in float32."""
    x32 = x.float()
    swapped = x32.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)  # (x[2i+1], x[2i]) for each pair
    return (x32 * cos + swapped * sin).type_as(x)


class GenerationLinear(nn.Linear):
    """A bias-free nn.Linear that, while the model generates, multiplies by a contiguous
    transposed copy of its weight (`hold_transposed`): a decode step sends one or two rows
    through every weight, and on a CPU `x @ W^T` with W^T laid out contiguously streams the
    weight from memory faster than F.linear does (benchmarks/decode_ab.py times the decode
    loop). `forward(x, outputs=(low, high))` computes only outputs low..high-1."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=False)
        self.transposed: torch.Tensor | None = None

    def hold_transposed(self, hold: bool) -> None:
        """Take (True) or drop (False) the transposed copy (in_features, out_features). The
        copy does not follow later changes to the weight: take it again after training."""
        self.transposed = self.weight.detach().t().contiguous() if hold else None

    def forward(self, x: torch.Tensor, outputs: tuple[int, int] | None = None) -> torch.Tensor:
        """x: (..., in_features) -> (..., high - low), outputs low..high-1 (all by default)."""
        low, high = outputs or (0, self.out_features)
        if self.transposed is not None:
            return x @ self.transposed[:, low:high]
        return F.linear(x, self.weight[low:high])


class KVCache(nn.Module):
    """Static keys and values (B, H, max_length, K) of one layer; `write` fills positions."""

    def __init__(self, batch: int, heads: int, max_length: int, head_size: int, dtype: torch.dtype, device: torch.device):
        super().__init__()
        shape = (batch, heads, max_length, head_size)
        self.register_buffer("keys", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("values", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def write(self, start: int, keys: torch.Tensor, values: torch.Tensor, visible: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H, n, K) keys/values at positions start..start+n-1; return positions
        0..visible-1 of the cache, (B, H, visible, K) each (views)."""
        n = keys.shape[2]
        self.keys[:, :, start : start + n] = keys
        self.values[:, :, start : start + n] = values
        return self.keys[:, :, :visible], self.values[:, :, :visible]


class Attention(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = GenerationLinear(config.width, 3 * config.width)
        self.out = GenerationLinear(config.width, config.width)
        self.cache: KVCache | None = None

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (B, S, D) at positions start..start+S-1; mask: (B, 1, S, keys), bool (True where a
        query may attend) or additive float (0 there, -inf elsewhere). Without a cache the keys
        are x's own; with one, the first `keys` positions of the cache.

        Plain views rather than einops here: a decode step runs this `depth` times per token,
        and einops' per-call cost was about a tenth of a layer's time on a 2-core CPU."""
        qkv = self.qkv(x).unflatten(-1, (3, self.heads, -1))  # (B, S, 3, H, K)
        # queries and keys turn together: cos, sin (S, K) broadcast over (2, H)
        qk = apply_rotary(qkv[:, :, :2], cos[:, None, None], sin[:, None, None])  # (B, S, 2, H, K)
        q, k = qk.permute(2, 0, 3, 1, 4)  # (B, H, S, K) each
        v = qkv[:, :, 2].transpose(1, 2)  # (B, H, S, K)
        if self.cache is not None:
            k, v = self.cache.write(start, k, v, visible=mask.shape[-1])
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, S, K)
        return self.out(y.transpose(1, 2).flatten(2))  # (B, S, D)


class SwiGLU(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.gate_and_up = GenerationLinear(config.width, 2 * config.mlp_width)
        self.down = GenerationLinear(config.mlp_width, config.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_and_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.attention_norm = RMSNorm(config.width)
        self.attention = Attention(config)
        self.mlp_norm = RMSNorm(config.width)
        self.mlp = SwiGLU(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (B, S, D) -> (B, S, D): pre-norm attention, then pre-norm SwiGLU, each residual."""
        x = x + self.attention(self.attention_norm(x), cos, sin, mask, start)
        return x + self.mlp(self.mlp_norm(x))


def prefix_lm_mask(prefix_lengths: torch.Tensor, key_valid: torch.Tensor) -> torch.Tensor:
    """(B,) prefix lengths and (B, S) key validity -> (B, 1, S, S) bool: query i may attend to
    key j when j <= i (causal) or j is in the prefix (bidirectional there), and key j is valid."""
    length = key_valid.shape[1]
    position = torch.arange(length, device=key_valid.device)
    causal = position[None, :] <= position[:, None]  # (S query, S key)
    in_prefix = position[None, None, :] < prefix_lengths[:, None, None]  # (B, 1, S key)
    allowed = (causal[None] | in_prefix) & key_valid[:, None, :]
    # a query whose keys are all masked (padding) attends to itself, so no row is empty
    allowed = allowed | torch.eye(length, dtype=torch.bool, device=key_valid.device)[None]
    return allowed[:, None]


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool attention mask -> the same as an additive float one (0 where allowed, -inf
    elsewhere), made once for every layer instead of by SDPA in each (the same scores)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))


class VideoPoetLM(nn.Module):
    """tokens (B, S) + text (B, L, E) -> logits (B, S, V), under the prefix-LM mask."""

    fsdp_units = (Block,)  # the submodules FSDP shards one by one

    def __init__(self, config: LMConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocabulary.size, config.width)
        self.text_projection = nn.Linear(config.text_dim, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = RMSNorm(config.width)
        self.head = GenerationLinear(config.width, config.vocabulary.size)
        cos, sin = rotary_tables(config.max_length, config.width // config.heads, config.rope_base)
        self.register_buffer("rotary_cos", cos, persistent=False)
        self.register_buffer("rotary_sin", sin, persistent=False)
        self.apply(self._init_weights)
        self._cache_key_valid: torch.Tensor | None = None

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def parameter_count(self, embeddings: bool = True) -> int:
        total = sum(p.numel() for p in self.parameters())
        return total if embeddings else total - self.embedding.weight.numel() - self.head.weight.numel()

    def _embed(self, tokens: torch.Tensor, text: torch.Tensor | None, has_text: torch.Tensor | None) -> torch.Tensor:
        """(B, S) tokens from position 0 -> (B, S, D); in rows with text, the text slot
        (positions TEXT_START .. TEXT_START + L - 1) holds the projected text embeddings."""
        x = self.embedding(tokens)
        if text is None or has_text is None or not bool(has_text.any()):
            return x
        stop = min(TEXT_START + text.shape[1], tokens.shape[1])
        projected = self.text_projection(text[:, : stop - TEXT_START].to(x.dtype))
        x = x.clone()
        x[:, TEXT_START:stop] = torch.where(has_text[:, None, None], projected, x[:, TEXT_START:stop])
        return x

    def _check_length(self, length: int) -> None:
        if length > self.config.max_length:
            raise ValueError(f"sequence of {length} tokens: this model takes at most max_length={self.config.max_length}")

    def forward(
        self,
        tokens: torch.Tensor,
        prefix_lengths: torch.Tensor,
        key_valid: torch.Tensor,
        text: torch.Tensor | None = None,
        has_text: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens, key_valid: (B, S); prefix_lengths, has_text: (B,); text: (B, L, E) -> logits
        (B, S, V); with `positions` ((B, S) bool) only the logits there, (N, V) in row-major
        order (training needs them at the outputs only)."""
        length = tokens.shape[1]
        self._check_length(length)
        x = self._embed(tokens, text, has_text)
        mask = prefix_lm_mask(prefix_lengths, key_valid)
        cos, sin = self.rotary_cos[:length], self.rotary_sin[:length]
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        x = self.norm(x)
        return self.head(x if positions is None else x[positions])

    # ---------------------------------------------------------------- cached generation

    def setup_cache(self, batch: int, max_length: int, dtype: torch.dtype | None = None) -> None:
        """Allocate a static KV cache for `batch` sequences of up to `max_length` tokens, and
        have every GenerationLinear hold its transposed weight until `clear_cache` (a second
        copy of the weights while generating)."""
        self._check_length(max_length)
        parameter = next(self.parameters())
        for block in self.blocks:
            block.attention.cache = KVCache(
                batch, self.config.heads, max_length, self.config.width // self.config.heads, dtype or parameter.dtype, parameter.device
            )
        self._cache_key_valid = torch.zeros(batch, max_length, dtype=torch.bool, device=parameter.device)
        self._hold_transposed(True)

    def _hold_transposed(self, hold: bool) -> None:
        for module in self.modules():
            if isinstance(module, GenerationLinear):
                module.hold_transposed(hold)

    def _visible_keys(self, filled: int) -> int:
        """How many cache positions attention reads once positions 0..filled-1 are written:
        `filled` rounded up to a multiple of KEY_BLOCK (the rest of the cache is masked out
        anyway, so a 64x64 clip's step reads half the keys on average). Cutting at a multiple
        of KEY_BLOCK keeps CPU SDPA's output bit for bit that over the whole masked cache: each
        vector lane sums the same keys, the extra ones masked to zero weight."""
        return min(self._cache_key_valid.shape[1], math.ceil(filled / KEY_BLOCK) * KEY_BLOCK)

    def clear_cache(self) -> None:
        for block in self.blocks:
            block.attention.cache = None
        self._cache_key_valid = None
        self._hold_transposed(False)

    def prefill(self, tokens: torch.Tensor, key_valid: torch.Tensor, text: torch.Tensor | None = None, has_text: torch.Tensor | None = None) -> torch.Tensor:
        """Run the prefix (B, P) (all of it is prefix: bidirectional) into the cache; return the
        logits (B, V) at its last position, which predict the first output token."""
        if self._cache_key_valid is None:
            raise RuntimeError("prefill needs a cache: call setup_cache(batch, max_length) first")
        length = tokens.shape[1]
        self._cache_key_valid.zero_()
        self._cache_key_valid[:, :length] = key_valid
        x = self._embed(tokens, text, has_text)
        visible = self._visible_keys(length)
        mask = self._cache_key_valid[:, None, None, :visible].expand(-1, 1, length, visible)
        mask = mask | (torch.arange(visible, device=tokens.device)[None, :] == torch.arange(length, device=tokens.device)[:, None])
        cos, sin = self.rotary_cos[:length], self.rotary_sin[:length]
        mask = additive_mask(mask, x.dtype)
        for block in self.blocks:
            x = block(x, cos, sin, mask, 0)
        return self.head(self.norm(x[:, -1]))

    def decode_step(self, token: torch.Tensor, position: int, vocabulary_range: tuple[int, int] | None = None) -> torch.Tensor:
        """Feed (B,) tokens at `position` (after everything before it is cached); return the
        logits (B, V) for position + 1, or (B, high - low) for the tokens low..high-1 only with
        `vocabulary_range` (the legal ones there: the output layer reads only their rows)."""
        if self._cache_key_valid is None:
            raise RuntimeError("decode_step needs a cache: call setup_cache(batch, max_length) and prefill first")
        if not 0 <= position < self._cache_key_valid.shape[1]:
            raise ValueError(f"position {position}: outside the cache's {self._cache_key_valid.shape[1]} positions")
        low, high = vocabulary_range or (0, self.config.vocabulary.size)
        if not 0 <= low < high <= self.config.vocabulary.size:
            raise ValueError(f"vocabulary_range {vocabulary_range}: needs 0 <= low < high <= {self.config.vocabulary.size}")
        self._cache_key_valid[:, position] = True
        x = self.embedding(token[:, None])
        mask = self._cache_key_valid[:, : self._visible_keys(position + 1)].clone()
        mask[:, position + 1 :] = False
        mask = additive_mask(mask[:, None, None, :], x.dtype)
        cos, sin = self.rotary_cos[position : position + 1], self.rotary_sin[position : position + 1]
        for block in self.blocks:
            x = block(x, cos, sin, mask, position)
        return self.head(self.norm(x[:, -1]), (low, high))

    # ---------------------------------------------------------------- checkpoints

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors`, atomically."""
        return save_pretrained(directory, self, CHECKPOINT_KIND, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None) -> "VideoPoetLM":
        """Load a model saved with `save_pretrained` (a checkpoint directory, or a model
        directory with an `lm/` part; by default the shipped one), in eval mode."""
        config, state = load_pretrained(part_or_checkpoint("lm", directory), CHECKPOINT_KIND)
        model = cls(LMConfig.from_dict(config))
        model.load_state_dict({name: tensor.float() if tensor.is_floating_point() else tensor for name, tensor in state.items()})
        return model.eval()
