"""Sampling output tokens: temperature, top-k, top-p, classifier-free guidance, legal ranges.

Every row of a batch shares one task layout (same length and prefix), so the prefix is run once
into a static KV cache and each output position is then decoded in one step. At each position
only the legal token range is sampled (video codes where video is due, the right audio level's
codes, the forced end markers), so a sample can never be ill-formed. With guidance, the
conditional and unconditional rows run as one batch of 2B, both with their caches, and the
logits mix as cond + (scale - 1) * (cond - uncond): scale 1 is exactly the conditional model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .model import VideoPoetLM
from .sequences import SequenceBatch, TokenSequence, drop_condition


@dataclass
class SamplingConfig:
    """temperature 0 is greedy; top_k / top_p None keep every token; guidance_scale None runs
    no unconditional pass; seed None draws from torch's global generator."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    guidance_scale: float | None = None
    seed: int | None = None

    def __post_init__(self):
        for name in ("temperature", "top_k", "top_p", "guidance_scale"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise ValueError(f"{name}={value!r}: not a finite number")
        if self.guidance_scale is not None and self.guidance_scale < 0:
            raise ValueError(f"guidance_scale={self.guidance_scale}: must be >= 0")
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature}: must be >= 0")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k={self.top_k}: must be >= 1")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p}: must be in (0, 1]")


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """(B, N) logits with everything outside the top-k and the top-p nucleus set to -inf."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative - ordered.softmax(-1) >= top_p  # keep up to and including the token that crosses p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return logits


def choose(logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None) -> torch.Tensor:
    """(B, N) logits -> (B,) indices, sampled per `config` (argmax at temperature 0)."""
    if config.temperature == 0:
        return logits.argmax(-1)
    logits = filter_logits(logits.float() / config.temperature, config.top_k, config.top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]


def _shared_layout(batch: SequenceBatch, layout: TokenSequence) -> None:
    if batch.tokens.shape[1] != len(layout) or bool((batch.prefix_lengths != layout.prefix_length).any()):
        raise ValueError(
            f"every row must share the layout's length {len(layout)} and prefix {layout.prefix_length}, got "
            f"length {batch.tokens.shape[1]} and prefixes {batch.prefix_lengths.tolist()}"
        )


@torch.no_grad()
def sample(model: VideoPoetLM, batch: SequenceBatch, layout: TokenSequence, config: SamplingConfig, progress=None) -> torch.Tensor:
    """Fill the outputs of `batch` (rows built from examples of one task with `layout`'s shape):
    returns tokens (B, S) equal to batch.tokens in the prefix and sampled after it.
    `progress`: an optional callable(done, total) called after each position."""
    _shared_layout(batch, layout)
    model.eval()
    vocab = model.config.vocabulary
    device = next(model.parameters()).device
    batch = batch.to(device)
    rows, length, prefix = len(batch), len(layout), layout.prefix_length
    guided = config.guidance_scale is not None
    if guided:
        unconditional = drop_condition(vocab, batch)
        run = SequenceBatch(*(torch.cat([a, b]) for a, b in zip(vars(batch).values(), vars(unconditional).values())))
    else:
        run = batch
    generator = None
    if config.seed is not None:
        generator = torch.Generator(device=device).manual_seed(config.seed)
    tokens = batch.tokens.clone()
    model.setup_cache(len(run), length)
    try:
        low, high = int(layout.legal_low[prefix]), int(layout.legal_high[prefix])
        logits = model.prefill(run.tokens[:, :prefix], run.key_valid[:, :prefix], run.text, run.has_text)[:, low:high]
        for position in range(prefix, length):
            # logits: (B, high - low) over this position's legal tokens low..high-1
            if guided:
                conditional, unconditional_logits = logits[:rows].float(), logits[rows:].float()
                logits = conditional + (config.guidance_scale - 1.0) * (conditional - unconditional_logits)
            if high - low == 1:
                chosen = torch.full((rows,), low, dtype=torch.long, device=device)
            else:
                chosen = low + choose(logits, config, generator)
            tokens[:, position] = chosen
            if progress is not None:
                progress(position - prefix + 1, length - prefix)
            if position + 1 < length:
                low, high = int(layout.legal_low[position + 1]), int(layout.legal_high[position + 1])
                logits = model.decode_step(chosen.repeat(2) if guided else chosen, position, (low, high))
    finally:
        model.clear_cache()
    return tokens
