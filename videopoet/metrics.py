"""Quality metrics: PSNR and SSIM on clips (8-bit RGB, as codecs are judged); SI-SNR and log-mel
distance on audio (and the mel power the audio tokenizer's training loss uses)."""

from __future__ import annotations

import functools
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


# ----------------------------------------------------------------------------- audio


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@functools.lru_cache(maxsize=32)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced on the HTK mel scale from
    0 Hz to Nyquist, each with a peak of 1."""
    frequencies = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(0.0, _hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (frequencies - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - frequencies) / np.maximum(upper - centre, 1e-9)
    return torch.from_numpy(np.clip(np.minimum(rising, falling), 0.0, None)).float()


def mel_power(wave: torch.Tensor, sample_rate: int, n_fft: int = 1024, n_mels: int = 80) -> torch.Tensor:
    """(B, N) wave -> (B, n_mels, frames) mel power; Hann window of n_fft, hop n_fft / 4,
    centred frames."""
    window = torch.hann_window(n_fft, device=wave.device, dtype=torch.float32)
    spectrum = torch.stft(wave.float(), n_fft, hop_length=n_fft // 4, window=window, return_complex=True)
    return mel_filterbank(sample_rate, n_fft, n_mels).to(wave.device) @ spectrum.abs().pow(2)


def _as_waves(estimate, reference, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Two waves of the same shape, (N,) or (B, N), as float64 (B, N) tensors."""
    estimate, reference = torch.as_tensor(estimate).double(), torch.as_tensor(reference).double()
    if estimate.shape != reference.shape or estimate.dim() not in (1, 2) or estimate.shape[-1] == 0:
        raise ValueError(f"{name}: need two waves of one shape, (N,) or (B, N), got {tuple(estimate.shape)} and {tuple(reference.shape)}")
    return estimate.reshape(-1, estimate.shape[-1]), reference.reshape(-1, reference.shape[-1])


def si_snr(estimate, reference) -> float:
    """Scale-invariant signal-to-noise ratio in dB, averaged over the batch: the reference's
    share of the (zero-mean) estimate against the rest. Waves (N,) or (B, N)."""
    estimate, reference = _as_waves(estimate, reference, "si_snr")
    estimate = estimate - estimate.mean(dim=1, keepdim=True)
    reference = reference - reference.mean(dim=1, keepdim=True)
    scale = (estimate * reference).sum(1, keepdim=True) / reference.pow(2).sum(1, keepdim=True).clamp_min(1e-12)
    target = scale * reference
    noise = estimate - target
    ratio = target.pow(2).sum(1).clamp_min(1e-12) / noise.pow(2).sum(1).clamp_min(1e-12)
    return float((10 * torch.log10(ratio)).mean())


def mel_distance(estimate, reference, sample_rate: int, top_db: float = 80.0) -> float:
    """Mean absolute difference of log10 mel powers (1024-point, 80 mels), both floored `top_db`
    below the reference's loudest bin (as librosa's power_to_db does), so inaudibly quiet bins
    (most of a pure tone's) do not dominate: 0 for identical waves, 1 for a tenfold power error
    everywhere. Waves (N,) or (B, N)."""
    estimate, reference = _as_waves(estimate, reference, "mel_distance")
    ours, theirs = mel_power(estimate, sample_rate), mel_power(reference, sample_rate)
    floor = theirs.amax(dim=(1, 2), keepdim=True).clamp_min(1e-10) * 10 ** (-top_db / 10)
    return float((torch.log10(torch.maximum(ours, floor)) - torch.log10(torch.maximum(theirs, floor))).abs().mean())
