"""Measuring a video tokenizer: PSNR, SSIM, codebook usage and bits per pixel, beside libx264
at the same bits per pixel, and the Shapes World evaluator on what the tokenizer gives back."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..io.pyav import av
from ..io.read import read_video
from ..io.write import to_uint8_frames, write_video
from ..metrics import psnr, ssim
from .magvit import VideoTokenizer

_CRF_RANGE = (0, 51)


@dataclass
class CodecFigures:
    """Mean PSNR (dB) and SSIM over clips, and bits per pixel actually spent."""

    psnr: float
    ssim: float
    bpp: float


def reconstruct(tokenizer: VideoTokenizer, videos: Sequence[torch.Tensor], batch_size: int = 8, progress: bool = False) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Encode and decode (3, T, H, W) clips in batches: (reconstructions, all codes flattened)."""
    device = next(tokenizer.parameters()).device
    outputs, codes = [], []
    for start in tqdm(range(0, len(videos), batch_size), desc="tokenize", unit="batch", disable=not progress):
        batch = torch.stack(list(videos[start : start + batch_size])).to(device)
        batch_codes = tokenizer.encode(batch)
        outputs.extend(tokenizer.decode(batch_codes).cpu())
        codes.append(batch_codes.flatten().cpu())
    return outputs, torch.cat(codes)


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> tuple[float, float]:
    """(share of the codebook used, perplexity of the code histogram) over a set of codes."""
    counts = torch.bincount(codes.flatten(), minlength=codebook_size).double()
    probabilities = counts[counts > 0] / counts.sum()
    perplexity = math.exp(float(-(probabilities * probabilities.log()).sum()))
    return float((counts > 0).double().mean()), perplexity


def tokenizer_bpp(tokenizer: VideoTokenizer, frames: int, height: int, width: int) -> float:
    """Bits per pixel of the token representation: tokens * bits / (frames * height * width)."""
    t, h, w = tokenizer.latent_shape(frames, height, width)
    return t * h * w * tokenizer.config.bits / (frames * height * width)


def _x264_once(frames: np.ndarray, fps: float, crf: int, folder: str) -> tuple[np.ndarray, float]:
    path = os.path.join(folder, f"crf{crf}.mp4")
    write_video(path, frames, fps, crf=crf, preset="veryslow")
    with av.open(path) as container:
        bits = 8 * sum(packet.size for packet in container.demux(container.streams.video[0]))
    decoded = to_uint8_frames(read_video(path, audio=False).video)
    return decoded, bits / frames[..., 0].size


def x264_at_bpp(video: torch.Tensor, fps: float, bpp: float) -> tuple[np.ndarray, float]:
    """libx264 (veryslow) at the lowest CRF whose video stream fits in `bpp` bits per pixel
    (the highest CRF if none fits): (decoded (T, H, W, 3) uint8, bits per pixel spent)."""
    frames = to_uint8_frames(video)
    with tempfile.TemporaryDirectory() as folder:
        low, high = _CRF_RANGE
        best = _x264_once(frames, fps, high, folder)
        while low <= high:  # bits fall as CRF rises: find the smallest CRF that fits
            crf = (low + high) // 2
            decoded, spent = _x264_once(frames, fps, crf, folder)
            if spent <= bpp:
                best, high = (decoded, spent), crf - 1
            else:
                low = crf + 1
    return best


def compare_with_x264(
    tokenizer: VideoTokenizer,
    videos: Sequence[torch.Tensor],
    fps: float,
    progress: bool = True,
    reconstructed: tuple[list[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, object]:
    """Tokenizer vs libx264 at the tokenizer's bits per pixel on the same clips (all of one shape).
    `reconstructed`: the output of `reconstruct(tokenizer, videos)` when already computed."""
    reconstructions, codes = reconstructed or reconstruct(tokenizer, videos, progress=progress)
    frames, height, width = videos[0].shape[1:]
    bpp = tokenizer_bpp(tokenizer, frames, height, width)
    ours = CodecFigures(
        float(np.mean([psnr(r, v) for r, v in zip(reconstructions, videos)])),
        float(np.mean([ssim(r, v) for r, v in zip(reconstructions, videos)])),
        bpp,
    )
    x264 = [x264_at_bpp(video, fps, bpp) for video in tqdm(videos, desc="libx264", unit="clip", disable=not progress)]
    theirs = CodecFigures(
        float(np.mean([psnr(decoded, video) for (decoded, _), video in zip(x264, videos)])),
        float(np.mean([ssim(decoded, video) for (decoded, _), video in zip(x264, videos)])),
        float(np.mean([spent for _, spent in x264])),
    )
    used, perplexity = codebook_usage(codes, tokenizer.codebook_size)
    return {"clips": len(videos), "tokenizer": ours, "x264": theirs, "codebook_used": used, "perplexity": perplexity}


def side_by_side(
    tokenizer: VideoTokenizer, videos: Sequence[torch.Tensor], names: Sequence[str], fps: float
) -> tuple[list[torch.Tensor], list[str]]:
    """For each (3, T, H, W) clip: the original, the tokenizer's reconstruction and libx264 at
    the same bits per pixel, as rows and captions for a contact sheet."""
    reconstructions, _ = reconstruct(tokenizer, videos)
    bpp = tokenizer_bpp(tokenizer, *videos[0].shape[1:])
    rows, captions = [], []
    for video, reconstruction, name in zip(videos, reconstructions, names):
        encoded, spent = x264_at_bpp(video, fps, bpp)
        rows += [video, reconstruction, encoded]
        captions += [
            f"original: {name}",
            f"videopoet tokens, {bpp:.3f} bpp: PSNR {psnr(reconstruction, video):.1f} dB",
            f"libx264, {spent:.3f} bpp: PSNR {psnr(encoded, video):.1f} dB",
        ]
    return rows, captions
