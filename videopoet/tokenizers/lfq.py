"""Lookup-free quantization (LFQ, MAGVIT-v2).

Each latent channel is quantized to its sign, so a d-channel latent has the implicit codebook
{-1, +1}^d of 2^d entries and its code is the bit pattern (channel i is bit i). No codebook
lookup, no codebook to learn. Two auxiliary losses keep the codes useful:

- entropy penalty: per-position entropy of the soft code assignment down (confident codes),
  entropy of the batch-average assignment up (all codes used). A soft assignment over 2^d codes
  is too large for d = 18, so the d bits are split into groups of at most `entropy_group_bits`
  and the entropies are summed over groups (exact when the groups are independent).
- commitment: the latent is pulled towards its quantized value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass
class LFQOutput:
    """quantized: (B, d, ...) in {-1, +1} with straight-through gradients; codes: (B, ...) int64;
    entropy_loss and commitment_loss: scalars (zero when not training)."""

    quantized: torch.Tensor
    codes: torch.Tensor
    entropy_loss: torch.Tensor
    commitment_loss: torch.Tensor


def bits_to_codes(bits: torch.Tensor) -> torch.Tensor:
    """(B, d, ...) bits in {0, 1} (or booleans) -> (B, ...) int64 codes, channel i is bit i."""
    weights = 2 ** torch.arange(bits.shape[1], device=bits.device, dtype=torch.int64)
    shape = (1, -1) + (1,) * (bits.dim() - 2)
    return (bits.long() * weights.view(shape)).sum(dim=1)


def codes_to_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """(B, ...) int64 codes -> (B, d, ...) bits in {0, 1} as int64."""
    if codes.numel() and (codes.min() < 0 or codes.max() >= 2**bits):
        raise ValueError(f"codes must lie in [0, {2**bits}), got [{int(codes.min())}, {int(codes.max())}]")
    weights = 2 ** torch.arange(bits, device=codes.device, dtype=torch.int64)
    return (codes.unsqueeze(1) // weights.view((1, -1) + (1,) * (codes.dim() - 1))) % 2


def _entropy(probabilities: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return -(probabilities * torch.log(probabilities.clamp_min(1e-9))).sum(dim=dim)


class LookupFreeQuantizer(nn.Module):
    """Quantize (B, d, ...) latents to signs; codes in [0, 2^d).

    entropy_weight scales (per-position entropy - diversity_weight * batch entropy);
    commitment_weight scales the commitment loss; temperature sharpens the soft assignment.
    """

    def __init__(
        self,
        bits: int,
        entropy_weight: float = 0.1,
        diversity_weight: float = 1.0,
        commitment_weight: float = 0.25,
        temperature: float = 0.01,
        entropy_group_bits: int = 9,
    ):
        super().__init__()
        if not 1 <= bits <= 30:
            raise ValueError(f"bits={bits}: LFQ needs 1 to 30 bits (codes are int64, vocabularies up to 2^30)")
        self.bits = bits
        self.entropy_weight = entropy_weight
        self.diversity_weight = diversity_weight
        self.commitment_weight = commitment_weight
        self.temperature = temperature
        self.groups = [min(entropy_group_bits, bits - start) for start in range(0, bits, entropy_group_bits)]
        for index, size in enumerate(self.groups):  # every code of a group as +-1 vectors: (2^g, g)
            corners = codes_to_bits(torch.arange(2**size), size).float() * 2 - 1
            self.register_buffer(f"corners_{index}", corners, persistent=False)

    @property
    def codebook_size(self) -> int:
        return 2**self.bits

    def forward(self, latent: torch.Tensor) -> LFQOutput:
        if latent.shape[1] != self.bits:
            raise ValueError(f"latent of shape {tuple(latent.shape)}: expected {self.bits} channels in dim 1")
        signs = torch.where(latent > 0, 1.0, -1.0).to(latent.dtype)
        quantized = latent + (signs - latent).detach()
        codes = bits_to_codes(latent > 0)
        zero = latent.new_zeros(())
        if not self.training:
            return LFQOutput(quantized, codes, zero, zero)
        commitment = F.mse_loss(latent, signs.detach())
        entropy = self._entropy_penalty(latent)
        return LFQOutput(quantized, codes, self.entropy_weight * entropy, self.commitment_weight * commitment)

    def _entropy_penalty(self, latent: torch.Tensor) -> torch.Tensor:
        """Sum over bit groups of (mean per-position entropy - diversity_weight * batch entropy)."""
        flat = rearrange(latent.float(), "b d ... -> (b ...) d")
        penalty = flat.new_zeros(())
        start = 0
        for index, size in enumerate(self.groups):
            corners = getattr(self, f"corners_{index}")
            # -||z - c||^2 = 2 z.c - const: (N, 2^g) logits of each position over the group's codes
            logits = 2 * flat[:, start : start + size] @ corners.t() / self.temperature
            probabilities = logits.softmax(dim=-1)
            per_position = _entropy(probabilities).mean()
            batch = _entropy(probabilities.mean(dim=0))
            penalty = penalty + per_position - self.diversity_weight * batch
            start += size
        return penalty

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, ...) codes -> (B, d, ...) quantized latent in {-1, +1}."""
        return codes_to_bits(codes, self.bits).float() * 2 - 1
