"""MaskGIT-style parallel decoding of a high-resolution token grid, its masking schedule, the
training loss, classifier-free guidance on the text and on the low-resolution condition, and the
noise augmentation of low-resolution tokens.

Decoding starts from an all-masked grid; every step predicts all masked positions at once,
keeps the most confident predictions and masks the rest again, following a cosine schedule
that leaves nothing masked after the last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..tokenizers.lfq import codes_to_bits
from .model import SuperResConfig, SuperResTransformer, join_codes, split_codes


def masked_fraction(progress: float | torch.Tensor) -> float | torch.Tensor:
    """The cosine schedule: the share of positions still masked at `progress` in [0, 1]
    (1 at the start, 0 at the end)."""
    if isinstance(progress, torch.Tensor):
        return torch.cos(progress * math.pi / 2)
    return math.cos(progress * math.pi / 2)


def masked_after_step(positions: int, step: int, steps: int) -> int:
    """How many of `positions` stay masked after decoding step `step` (0-based) of `steps`: the
    schedule's share, but at least one fewer than before each step while any are masked, and 0
    after the last step."""
    masked = positions
    for index in range(min(step, steps - 1) + 1):
        schedule = 0 if index == steps - 1 else math.floor(positions * masked_fraction((index + 1) / steps))
        masked = max(0, min(masked - 1, schedule))
    return masked


def augment_low_codes(low: torch.Tensor, max_fraction: float, codebook_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace a share of one clip's low-resolution codes (T, h, w) by random codes, the share
    drawn uniformly from [0, max_fraction], so the model learns to forgive the mistakes of a
    generated low-resolution grid."""
    if max_fraction <= 0:
        return low
    share = float(torch.rand((), generator=generator)) * max_fraction
    noisy = torch.rand(low.shape, generator=generator) < share
    return torch.where(noisy, torch.randint(0, codebook_size, low.shape, generator=generator), low)


@dataclass
class TrainingExample:
    """One clip's training input: high (T, H, W) and low (T, h, w) codes (low with noise),
    masked (T, H, W) bool (at least one True), text (L, E), text_valid (L,) bool (all False when
    the text is dropped), low_dropped: a 0-d bool tensor (the low grid dropped)."""

    high: torch.Tensor
    low: torch.Tensor
    masked: torch.Tensor
    text: torch.Tensor
    text_valid: torch.Tensor
    low_dropped: torch.Tensor


def training_example(
    high: torch.Tensor,
    low: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    codebook_size: int,
    generator: torch.Generator,
    condition_dropout: float = 0.1,
    low_noise: float = 0.2,
) -> TrainingExample:
    """Draw one clip's masking: a share of its high-resolution positions from the schedule (at
    least one), the text and the low-resolution grid each dropped with probability
    `condition_dropout` (for guidance), and noise on the low-resolution codes."""
    share = masked_fraction(float(torch.rand((), generator=generator)))
    scores = torch.rand(high.shape, generator=generator)
    masked = scores < share
    masked.view(-1)[scores.flatten().argmin()] = True
    drop_text, drop_low = (torch.rand(2, generator=generator) < condition_dropout).unbind()
    return TrainingExample(
        high=high,
        low=augment_low_codes(low, low_noise, codebook_size, generator),
        masked=masked,
        text=text,
        text_valid=text_mask & ~drop_text,
        low_dropped=drop_low,
    )


def collate_examples(examples: list[TrainingExample]) -> TrainingExample:
    """Stack examples of one grid size into a batch (a leading B on every field)."""
    return TrainingExample(*(torch.stack([getattr(example, name) for example in examples]) for name in TrainingExample.__dataclass_fields__))


def masked_token_loss(model: nn.Module, batch: TrainingExample, config: SuperResConfig | None = None) -> torch.Tensor:
    """Cross-entropy (nats per sub-code) of the masked positions' sub-codes, for a batch from
    `collate_examples`; `model` may be a wrapper (DDP) when `config` is given."""
    config = config or model.config
    logits = model(batch.high, batch.masked, batch.low, batch.text, batch.text_valid, batch.low_dropped)  # (B, T, H, W, F, C)
    targets = split_codes(batch.high, config.codebook_bits, config.factors)  # (B, T, H, W, F)
    return F.cross_entropy(logits[batch.masked].flatten(0, 1).float(), targets[batch.masked].flatten())


@dataclass
class DecodingConfig:
    """steps: parallel decoding steps; temperature: of the sub-code distributions (0: argmax);
    text_guidance, low_guidance: classifier-free guidance scales (1: the conditional model);
    choice_temperature: Gumbel noise on the confidences, annealed to 0 over the steps."""

    steps: int = 8
    temperature: float = 1.0
    text_guidance: float = 1.0
    low_guidance: float = 1.0
    choice_temperature: float = 2.0
    seed: int | None = None

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"decoding steps {self.steps}: must be at least 1")
        if self.temperature < 0:
            raise ValueError(f"temperature {self.temperature}: must not be negative")


def guided_log_probs(
    model: SuperResTransformer,
    high: torch.Tensor,
    masked: torch.Tensor,
    low: torch.Tensor,
    text: torch.Tensor,
    text_valid: torch.Tensor,
    config: DecodingConfig,
) -> torch.Tensor:
    """Log-probabilities (B, T, H, W, F, C) of every sub-code, guided: with l the log-softmax of
    the conditional model, l + (text_guidance - 1)(l - l without text) + (low_guidance - 1)
    (l - l without the low-resolution grid). Scales of 1 run the conditional model alone."""
    batch = high.shape[0]
    variants = [(text_valid, torch.zeros(batch, dtype=torch.bool, device=high.device))]
    if config.text_guidance != 1:
        variants.append((torch.zeros_like(text_valid), variants[0][1]))
    if config.low_guidance != 1:
        variants.append((text_valid, torch.ones(batch, dtype=torch.bool, device=high.device)))
    count = len(variants)
    logits = model(
        high.repeat(count, 1, 1, 1),
        masked.repeat(count, 1, 1, 1),
        low.repeat(count, 1, 1, 1),
        text.repeat(count, 1, 1),
        torch.cat([valid for valid, _ in variants]),
        torch.cat([dropped for _, dropped in variants]),
    )
    log_probs = logits.float().log_softmax(-1).split(batch)
    guided = log_probs[0]
    index = 1
    for scale in (config.text_guidance, config.low_guidance):
        if scale != 1:
            guided = guided + (scale - 1) * (log_probs[0] - log_probs[index])
            index += 1
    return guided


def _masked_grid(model: SuperResTransformer, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The all-masked high-resolution grid over low (B, T, h, w) codes: codes (B, T, scale h,
    scale w) of 0 and a mask of True; ValueError (from the model) when the grid does not fit it."""
    batch, time, height, width = low.shape
    shape = (batch, time, height * model.config.scale, width * model.config.scale)
    model.check_grids(shape, low)
    return torch.zeros(shape, dtype=torch.long, device=low.device), torch.ones(shape, dtype=torch.bool, device=low.device)


@torch.no_grad()
def decode(
    model: SuperResTransformer,
    low: torch.Tensor,
    text: torch.Tensor,
    text_valid: torch.Tensor,
    config: DecodingConfig | None = None,
) -> torch.Tensor:
    """Fill the high-resolution grid of low (B, T, h, w) codes and text (B, L, E) with
    text_valid (B, L): returns codes (B, T, scale h, scale w) after `config.steps` steps."""
    config = config or DecodingConfig()
    model_config = model.config
    high, masked = _masked_grid(model, low)
    batch = low.shape[0]
    device = low.device
    generator = torch.Generator(device=device)
    if config.seed is not None:
        generator.manual_seed(config.seed)
    else:
        generator.seed()
    positions = masked[0].numel()
    for step in range(config.steps):
        log_probs = guided_log_probs(model, high, masked, low, text, text_valid, config)
        sub_codes, sub_log_probs = _sample(log_probs, config.temperature, generator)  # (B, T, H, W, F) each
        proposal = join_codes(sub_codes, model_config.codebook_bits)
        confidence = sub_log_probs.sum(-1)
        annealing = config.choice_temperature * (1 - (step + 1) / config.steps)
        if annealing > 0:
            uniform = torch.rand(confidence.shape, generator=generator, device=device).clamp_min(1e-20)
            confidence = confidence + annealing * -torch.log(-torch.log(uniform))
        confidence = torch.where(masked, confidence, torch.inf)  # decided positions stay decided
        high = torch.where(masked, proposal, high)
        keep_masked = masked_after_step(positions, step, config.steps)
        masked = torch.zeros_like(masked)
        if keep_masked:
            lowest = confidence.flatten(1).topk(keep_masked, dim=1, largest=False).indices
            masked.view(batch, -1).scatter_(1, lowest, True)
    return high


def bit_signs(bits: int, factors: int) -> torch.Tensor:
    """(F, C, bits): for sub-code c of factor f (the layout of `split_codes`), +1 / -1 for each
    code bit it sets / clears and 0 for the bits the other factors hold."""
    sub_codes = 2 ** (bits // factors)
    signs = torch.zeros(factors, sub_codes, bits)
    for factor in range(factors):
        alone = torch.zeros(sub_codes, factors, dtype=torch.long)
        alone[:, factor] = torch.arange(sub_codes)  # this factor's sub-codes, the others 0
        owned = codes_to_bits(join_codes(alone[-1:], bits), bits)[0].bool()  # the bits it holds
        signs[factor] = torch.where(owned, codes_to_bits(join_codes(alone, bits), bits).float() * 2 - 1, 0.0)
    return signs


@torch.no_grad()
def expected_latent(
    model: SuperResTransformer,
    low: torch.Tensor,
    text: torch.Tensor,
    text_valid: torch.Tensor,
    config: DecodingConfig | None = None,
) -> torch.Tensor:
    """The stage's soft prediction for low (B, T, h, w) codes and text (B, L, E) with text_valid
    (B, L): every high-resolution code bit's expected value in [-1, 1] under the (guided)
    prediction of an all-masked grid, one pass, as a latent (B, bits, T, scale h, scale w). Where
    the stage is sure, a bit is +-1, as in the latent of a code; where it is not, nearer 0, which
    hedges instead of committing to a guess. Only `config`'s guidance scales matter here."""
    high, masked = _masked_grid(model, low)
    probabilities = guided_log_probs(model, high, masked, low, text, text_valid, config or DecodingConfig()).exp()  # (B, T, H, W, F, C)
    signs = bit_signs(model.config.codebook_bits, model.config.factors).to(low.device)
    return torch.einsum("bthwfc,fcd->bdthw", probabilities, signs)


def _sample(log_probs: torch.Tensor, temperature: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """log_probs (..., C) -> a sample (...) and its log-probability (...) under log_probs."""
    if temperature == 0:
        choice = log_probs.argmax(-1)
    else:
        probabilities = (log_probs / temperature).softmax(-1)
        choice = torch.multinomial(probabilities.reshape(-1, probabilities.shape[-1]), 1, generator=generator).reshape(probabilities.shape[:-1])
    return choice, log_probs.gather(-1, choice[..., None]).squeeze(-1)
