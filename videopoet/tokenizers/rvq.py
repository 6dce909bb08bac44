"""Residual vector quantization (RVQ, SoundStream).

Level 1 quantizes the latent to its nearest codebook entry, level 2 the residual that level 1
left, and so on: the quantized latent is the sum of one entry per level, and a code is one
index per level. Codebooks are not learned by gradients but as exponential moving averages of
the vectors assigned to each entry (k-means online), initialised from the first batch's
vectors. Entries that stop being used are restarted on vectors from the current batch. In
training, quantizer dropout keeps only the first n levels of each example (n uniform in
1..levels), so a decoder trained this way decodes any prefix of the levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass
class RVQOutput:
    """quantized: (B, D, T) with straight-through gradients; codes: (B, levels, T) int64;
    commitment_loss: scalar (zero when not training)."""

    quantized: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor


class ResidualVectorQuantizer(nn.Module):
    """`levels` codebooks of `codebook_size` entries of width `dim`, updated by EMA.

    decay: EMA decay of the codebook statistics; dead_code_share: an entry whose EMA usage
    (vectors per batch) falls below this share of the mean entry's is restarted on a random
    vector of the batch;
    commitment_weight scales ||latent - sg(quantized)||^2.
    """

    def __init__(
        self,
        dim: int,
        levels: int = 4,
        codebook_size: int = 1024,
        decay: float = 0.9,
        dead_code_share: float = 0.1,
        commitment_weight: float = 1.0,
    ):
        super().__init__()
        if levels < 1 or codebook_size < 2 or dim < 1:
            raise ValueError(f"levels={levels}, codebook_size={codebook_size}, dim={dim}: need levels >= 1, size >= 2, dim >= 1")
        self.dim, self.levels, self.codebook_size = dim, levels, codebook_size
        self.decay, self.dead_code_share, self.commitment_weight = decay, dead_code_share, commitment_weight
        self.register_buffer("codebooks", torch.zeros(levels, codebook_size, dim))
        self.register_buffer("usage", torch.ones(levels, codebook_size))  # EMA of vectors per entry per batch
        self.register_buffer("vector_sums", torch.zeros(levels, codebook_size, dim))  # EMA of their sums
        self.register_buffer("initialised", torch.zeros(levels, dtype=torch.bool))

    # ------------------------------------------------------------------ codes <-> latent

    def _check_levels(self, levels: int | None) -> int:
        levels = self.levels if levels is None else levels
        if not 1 <= levels <= self.levels:
            raise ValueError(f"levels={levels}: this quantizer has 1..{self.levels} levels")
        return levels

    def _nearest(self, level: int, vectors: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N,) index of the nearest entry of codebook `level`."""
        codebook = self.codebooks[level]
        distances = vectors.pow(2).sum(1, keepdim=True) - 2 * vectors @ codebook.t() + codebook.pow(2).sum(1)
        return distances.argmin(dim=1)

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, l, T) codes of the first l <= levels levels -> (B, D, T) sum of their entries."""
        if codes.dim() != 3:
            raise ValueError(f"codes must be (batch, levels, frames), got shape {tuple(codes.shape)}")
        levels = self._check_levels(codes.shape[1])
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.codebook_size}), got [{int(codes.min())}, {int(codes.max())}]")
        latent = sum(F.embedding(codes[:, level], self.codebooks[level]) for level in range(levels))
        return rearrange(latent, "b t d -> b d t")

    @torch.no_grad()
    def encode(self, latent: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """(B, D, T) latent -> (B, levels, T) codes (no codebook update)."""
        return self._quantize(latent, self._check_levels(levels), update=False)[1]

    # ------------------------------------------------------------------ training

    def forward(self, latent: torch.Tensor, generator: torch.Generator | None = None) -> RVQOutput:
        """Quantize (B, D, T) with every level. In training, the codebooks take an EMA step,
        dead entries restart and each example keeps a random number of levels (quantizer
        dropout); `generator` makes those draws reproducible."""
        if latent.dim() != 3 or latent.shape[1] != self.dim:
            raise ValueError(f"latent must be (batch, {self.dim}, frames), got shape {tuple(latent.shape)}")
        latent = latent.float()
        keep = None
        if self.training:
            keep = torch.randint(1, self.levels + 1, (latent.shape[0],), generator=generator, device="cpu").to(latent.device)
        quantized, codes = self._quantize(latent, self.levels, update=self.training, keep=keep, generator=generator)
        commitment = latent.new_zeros(())
        if self.training:
            commitment = self.commitment_weight * F.mse_loss(latent, quantized.detach())
        quantized = latent + (quantized - latent).detach()  # straight-through
        return RVQOutput(quantized, codes, commitment)

    def _quantize(
        self,
        latent: torch.Tensor,
        levels: int,
        update: bool,
        keep: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> quantized (B, D, T) summed over the kept levels, codes (B, levels, T)."""
        batch, _, frames = latent.shape
        residual = rearrange(latent.float(), "b d t -> (b t) d")
        quantized = torch.zeros_like(residual)
        # which (example, frame) rows use each level: all of them unless quantizer dropout
        kept_levels = (keep if keep is not None else torch.full((batch,), levels, device=latent.device)).repeat_interleave(frames)
        codes = []
        for level in range(levels):
            active = kept_levels > level
            if update:
                self._maybe_initialise(level, residual[active], generator)
            index = self._nearest(level, residual)
            chosen = self.codebooks[level][index] * active.unsqueeze(1)
            if update:  # after choosing: the output uses the codebook its codes were found in
                self._ema_update(level, residual[active], index[active], generator)
            quantized = quantized + chosen
            residual = residual - chosen
            codes.append(index)
        codes_tensor = rearrange(torch.stack(codes, dim=1), "(b t) l -> b l t", b=batch)
        return rearrange(quantized, "(b t) d -> b d t", b=batch), codes_tensor

    @torch.no_grad()
    def _random_rows(self, vectors: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
        picks = torch.randint(0, vectors.shape[0], (count,), generator=generator, device="cpu").to(vectors.device)
        return vectors[picks]

    @torch.no_grad()
    def _maybe_initialise(self, level: int, vectors: torch.Tensor, generator: torch.Generator | None) -> None:
        if self.initialised[level] or vectors.shape[0] == 0:
            return
        self.codebooks[level] = self._random_rows(vectors, self.codebook_size, generator)
        self.vector_sums[level] = self.codebooks[level] * (vectors.shape[0] / self.codebook_size)
        self.usage[level].fill_(vectors.shape[0] / self.codebook_size)
        self.initialised[level] = True

    @torch.no_grad()
    def _ema_update(self, level: int, vectors: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None) -> None:
        if vectors.shape[0] == 0:
            return
        counts = torch.bincount(index, minlength=self.codebook_size).float()
        sums = torch.zeros_like(self.vector_sums[level]).index_add_(0, index, vectors)
        self.usage[level].mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.vector_sums[level].mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps rarely used entries from dividing by ~0
        total = self.usage[level].sum()
        smoothed = (self.usage[level] + 1e-5) / (total + self.codebook_size * 1e-5) * total
        self.codebooks[level] = self.vector_sums[level] / smoothed.unsqueeze(1)
        dead = self._dead(level)
        if dead.any():
            restarts = self._random_rows(vectors, int(dead.sum()), generator)
            self.usage[level][dead] = self.usage[level].mean()
            self.codebooks[level][dead] = restarts
            self.vector_sums[level][dead] = restarts * self.usage[level][dead].unsqueeze(1)

    def _dead(self, level: int) -> torch.Tensor:
        return self.usage[level] < self.dead_code_share * self.usage[level].mean()
