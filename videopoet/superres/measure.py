"""How good is a super-resolution stage? On Shapes World clips rendered at both sizes:

- super-resolution: the low-resolution clip's codes, filled in by the stage (its soft prediction,
  `expected_latent`, as the pipeline's `upscale` makes it) and decoded at the high size from both
  grids by the stage's decoder;
- bicubic: the low-resolution clip decoded by the tokenizer and upsampled bicubically (the baseline);
- tokenizer at the high size: the high-resolution render's true codes through the same decoder
  (the ceiling: the best any stage predicting codes for this tokenizer could reach with it);
- without the stage: the same decoder given a high latent of zeros (every bit unknown), so the
  low grid alone: what the stage's prediction adds is the difference to super-resolution;

each scored by PSNR against the high-resolution render and by the evaluator, beside the
evaluator's figures for the decoded low-resolution clip itself. The low-resolution clip is
decoded by `tokenizer`, as the pipeline makes it.
"""

from __future__ import annotations

from collections.abc import Callable
import numpy as np
import torch
from tqdm.auto import tqdm

from ..io.write import bicubic_resize, from_uint8_frames
from ..metrics import psnr
from ..tokenizers import VideoTokenizer
from ..world import parse, render_clip
from ..world.evaluator import EvalReport, observe, score_clip
from .decoder import SuperResDecoder
from .decoding import DecodingConfig, expected_latent
from .model import SuperResTransformer

VARIANTS = ("low", "superres", "bicubic", "tokenizer_high", "without_stage")
ATTRIBUTE_TOLERANCE = 0.02  # how far below the decoded low-resolution clip's an attribute may score


def shortfalls(figures: dict[str, dict], tolerance: float = ATTRIBUTE_TOLERANCE) -> list[str]:
    """Why a stage's `measure_upscaling` figures miss the bar a stage must clear to ship (empty
    when they clear it): its output beats bicubic upsampling of the decoded low-resolution clip
    in PSNR, and scores every evaluator attribute within `tolerance` of that clip's."""
    missing = []
    upscaled, bicubic = figures["superres"]["psnr"], figures["bicubic"]["psnr"]
    if not upscaled > bicubic:
        missing.append(f"PSNR {upscaled:.2f} dB does not beat bicubic's {bicubic:.2f} dB")
    low = figures["low"]["evaluator"]
    for attribute, accuracy in figures["superres"]["evaluator"].items():
        if accuracy < low[attribute] - tolerance:
            missing.append(f"{attribute} {accuracy:.3f} is more than {tolerance} below the low-resolution clip's {low[attribute]:.3f}")
    return missing


def measure_upscaling(
    superres: SuperResTransformer,
    decoder: SuperResDecoder,
    tokenizer: VideoTokenizer,
    encode_text: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]],
    clips: int,
    low_size: int,
    frames: int,
    split: str = "compositional",
    decoding: DecodingConfig | None = None,
    batch_size: int = 4,
    progress: bool = True,
) -> dict[str, dict]:
    """{variant: {"psnr": mean dB against the high render (None for "low"), "evaluator": accuracy
    per attribute}} over Shapes World `split` clips 0..clips-1. `encode_text(captions)` returns
    (embeddings (B, L, E), valid (B, L)). `decoder` decodes the high-resolution latents beside
    the low codes; `decoding` gives the guidance scales."""
    decoding = decoding or DecodingConfig()
    high_size = low_size * superres.config.scale
    device = next(superres.parameters()).device
    reports = {variant: EvalReport() for variant in VARIANTS}
    psnrs: dict[str, list[float]] = {variant: [] for variant in VARIANTS[1:]}
    for start in tqdm(range(0, clips, batch_size), desc="upscale", unit="batch", disable=not progress):
        seeds = range(start, min(start + batch_size, clips))
        low_clips = [render_clip(split, seed, low_size, frames) for seed in seeds]
        truths = torch.stack([from_uint8_frames(render_clip(split, seed, high_size, frames).video) for seed in seeds])
        captions = [clip.caption for clip in low_clips]
        low_codes = tokenizer.encode(torch.stack([from_uint8_frames(clip.video) for clip in low_clips]).to(device))
        low_videos = tokenizer.decode(low_codes).float().cpu()
        text, valid = encode_text(captions)
        soft = expected_latent(superres, low_codes, text.to(device), valid.to(device), decoding)
        true_latent = tokenizer.quantizer.codes_to_latent(tokenizer.encode(truths.to(device)))
        videos = {
            "low": low_videos,
            "superres": decoder.decode(soft, low_codes).float().cpu(),
            "bicubic": bicubic_resize(low_videos, high_size),
            "tokenizer_high": decoder.decode(true_latent, low_codes).float().cpu(),
            "without_stage": decoder.decode(torch.zeros_like(soft), low_codes).float().cpu(),
        }
        for variant, batch in videos.items():
            for row, (video, caption) in enumerate(zip(batch, captions)):
                reports[variant].add(score_clip(observe(video), parse(caption)))
                if variant != "low":
                    psnrs[variant].append(float(psnr(video, truths[row])))
    return {variant: {"psnr": float(np.mean(psnrs[variant])) if variant in psnrs else None, "evaluator": reports[variant].accuracy()} for variant in VARIANTS}

