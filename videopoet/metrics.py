"""Image-quality metrics on clips: PSNR and SSIM, computed on 8-bit RGB as codecs are judged."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .io.write import VideoLike, to_uint8_frames


def psnr(video: VideoLike, reference: VideoLike, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between two clips (see `to_uint8_frames` for layouts), over the pixels where
    `mask` (T, H, W) bool is set, or all of them. Identical pixels give infinity."""
    frames, target = to_uint8_frames(video).astype(np.float64), to_uint8_frames(reference).astype(np.float64)
    if frames.shape != target.shape:
        raise ValueError(f"psnr: clip of shape {frames.shape} against a reference of shape {target.shape}")
    error = (frames - target) ** 2
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), frames.shape[:3])
        if not mask.any():
            raise ValueError("psnr: the mask selects no pixel")
        error = error[mask]
    mse = float(error.mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    weights = weights / weights.sum()
    return weights[:, None] * weights[None, :]


def ssim(video: VideoLike, reference: VideoLike) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03,
    on 0..255) over every frame and RGB channel; windows stay inside the picture."""
    frames = torch.from_numpy(to_uint8_frames(video)).double().permute(0, 3, 1, 2)
    target = torch.from_numpy(to_uint8_frames(reference)).double().permute(0, 3, 1, 2)
    if frames.shape != target.shape:
        raise ValueError(f"ssim: clip of shape {tuple(frames.shape)} against a reference of shape {tuple(target.shape)}")
    channels = frames.shape[1]
    window = _gaussian_window().expand(channels, 1, 11, 11)
    if min(frames.shape[2:]) < 11:
        raise ValueError(f"ssim: frames of {tuple(frames.shape[2:])} pixels are smaller than the 11x11 window")

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mean_x, mean_y = blur(frames), blur(target)
    var_x = blur(frames * frames) - mean_x**2
    var_y = blur(target * target) - mean_y**2
    covariance = blur(frames * target) - mean_x * mean_y
    index = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())
