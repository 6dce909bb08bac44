"""Which of its code bits does the super-resolution stage get wrong, and do they matter?

A video code is the signs of the encoder's LFQ latent z, one bit per channel. Where |z| is small
the encoder itself barely decides: a slightly different render flips the bit. Two tables:

1. The stage's greedy prediction (from the true low-resolution codes of compositional clips)
   against the true high-resolution codes, bit by bit, binned by |z| of the high-resolution
   encoding: each bin's share of the bits, how often the stage gets them wrong, and its share
   of all wrong bits.
2. What such bits are worth to the picture, measured where no stage is involved: the
   low-resolution clips encoded, and every bit with |z| below a threshold either replaced by a
   coin flip or set to 0 (no sign) before the tokenizer's decoder; PSNR against the render.

    python scripts/superres_bit_errors.py RUN/superres/checkpoint --clips 8
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from videopoet.io.write import from_uint8_frames
from videopoet.metrics import psnr
from videopoet.superres import DecodingConfig, SuperResTransformer, decode
from videopoet.tokenizers import VideoTokenizer
from videopoet.tokenizers.lfq import codes_to_bits
from videopoet.tokenizers.text import TextEncoder
from videopoet.world import render_clip

BINS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, float("inf"))
THRESHOLDS = (0.05, 0.1, 0.2, 0.4)


@torch.no_grad()
def stage_bit_errors(stage: SuperResTransformer, tokenizer: VideoTokenizer, text: TextEncoder, seeds: range) -> tuple[np.ndarray, np.ndarray]:
    """(wrong, magnitude), flat over every bit of every clip: whether the stage's greedy code has
    the bit wrong, and |z| of the true high-resolution encoding there."""
    low_size = stage.config.clip["size"]
    frames = stage.config.clip["frames"]
    wrong, magnitude = [], []
    for seed in seeds:
        low = render_clip("compositional", seed, low_size, frames)
        high = from_uint8_frames(render_clip("compositional", seed, low_size * stage.config.scale, frames).video)[None]
        embedded = text([low.caption])
        low_codes = tokenizer.encode(from_uint8_frames(low.video)[None])
        predicted = decode(stage, low_codes, embedded.embeddings, embedded.mask, DecodingConfig(temperature=0, seed=0))
        latent = tokenizer.encoder(high)  # (1, bits, t, H, W)
        wrong.append((codes_to_bits(predicted, stage.config.codebook_bits).bool() != (latent > 0)).flatten().numpy())
        magnitude.append(latent.abs().flatten().numpy())
    return np.concatenate(wrong), np.concatenate(magnitude)


@torch.no_grad()
def decode_with_uncertain_bits(tokenizer: VideoTokenizer, seeds: range, size: int, frames: int) -> dict[str, float]:
    """Mean PSNR of `size` px clips decoded from their own codes ("codes"), and with every bit of
    |z| < t replaced by a coin flip ("random <t") or by 0 ("zero <t")."""
    generator = torch.Generator().manual_seed(0)
    scores: dict[str, list[float]] = {}
    for seed in seeds:
        video = from_uint8_frames(render_clip("compositional", seed, size, frames).video)[None]
        latent = tokenizer.encoder(video)
        signs = torch.where(latent > 0, 1.0, -1.0)
        variants = {"codes": signs}
        for threshold in THRESHOLDS:
            uncertain = latent.abs() < threshold
            coin = torch.where(torch.rand(latent.shape, generator=generator) < 0.5, 1.0, -1.0)
            variants[f"random <{threshold}"] = torch.where(uncertain, coin, signs)
            variants[f"zero <{threshold}"] = torch.where(uncertain, 0.0, signs)
        for name, variant in variants.items():
            scores.setdefault(name, []).append(float(psnr(tokenizer.decoder(variant).clamp(-1, 1)[0], video[0])))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("superres", help="super-resolution stage checkpoint")
    parser.add_argument("--tokenizer", default="videopoet/pretrained/shapes-64/video_tokenizer", help="the tokenizer whose codes the stage reads and predicts")
    parser.add_argument("--clips", type=int, default=8, help="compositional clips 0..N-1")
    args = parser.parse_args(argv)
    if args.clips < 1:
        parser.error(f"--clips {args.clips}: must be at least 1")
    stage = SuperResTransformer.from_pretrained(args.superres).eval()
    tokenizer = VideoTokenizer.from_pretrained(args.tokenizer).eval()
    clip = stage.config.clip
    text = TextEncoder.named(clip["text_encoder"], max_tokens=clip["text_length"])
    seeds = range(args.clips)

    wrong, magnitude = stage_bit_errors(stage, tokenizer, text, seeds)
    high = clip["size"] * stage.config.scale
    print(f"{args.clips} compositional clips, {wrong.size} bits of {high} px codes; the stage (greedy) gets {wrong.mean():.3f} wrong")
    print(f"{'|z| of the true encoding':<26}{'share of bits':>14}{'wrong':>8}{'share of wrong bits':>21}")
    for low, high in zip(BINS, BINS[1:]):
        chosen = (magnitude >= low) & (magnitude < high)
        rate = wrong[chosen].mean() if chosen.any() else float("nan")
        print(f"{f'[{low}, {high})':<26}{chosen.mean():>14.3f}{rate:>8.3f}{wrong[chosen].sum() / max(wrong.sum(), 1):>21.3f}")

    size = clip["size"]
    scores = decode_with_uncertain_bits(tokenizer, seeds, size, clip["frames"])
    print(f"\n{size} px clips decoded with their uncertain bits changed (PSNR against the render, dB)")
    for name, score in scores.items():
        print(f"{name:<26}{score:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
