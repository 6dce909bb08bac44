"""Local attention windows over a token grid: cut a (B, T, H, W, D) grid into 1-D windows along
one axis (time, height or width), attend inside each, and put the grid back together.

A window holds up to `size` consecutive positions along its axis that share the other two
coordinates. An axis whose length is not a multiple of `size` is padded at its end; the padding
is marked invalid so attention never reads it, and merging drops it again.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

AXES = ("time", "height", "width")

# (B, T, H, W, D) -> (B * rest, axis length, D) with the windowed axis second, and back.
_TO_LINES = {
    "time": "b t h w d -> (b h w) t d",
    "height": "b t h w d -> (b t w) h d",
    "width": "b t h w d -> (b t h) w d",
}
_FROM_LINES = {
    "time": "(b h w) t d -> b t h w d",
    "height": "(b t w) h d -> b t h w d",
    "width": "(b t h) w d -> b t h w d",
}


def _check_axis(axis: str) -> int:
    if axis not in AXES:
        raise ValueError(f"window axis {axis!r}: one of {', '.join(AXES)}")
    return AXES.index(axis)


def partition_windows(grid: torch.Tensor, axis: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """grid (B, T, H, W, D) -> windows (N, size, D) and valid (N, size), N = B * (the two other
    axes' lengths) * ceil(axis length / size); valid is False on padding."""
    if grid.dim() != 5:
        raise ValueError(f"grid of shape {tuple(grid.shape)}: expected (B, T, H, W, D)")
    if size < 1:
        raise ValueError(f"window size {size}: must be at least 1")
    length = grid.shape[1 + _check_axis(axis)]
    lines = rearrange(grid, _TO_LINES[axis])  # (L, length, D)
    padding = -length % size
    valid = torch.ones(lines.shape[0], length, dtype=torch.bool, device=grid.device)
    if padding:
        lines = F.pad(lines, (0, 0, 0, padding))
        valid = F.pad(valid, (0, padding), value=False)
    windows = rearrange(lines, "l (n s) d -> (l n) s d", s=size)
    return windows, rearrange(valid, "l (n s) -> (l n) s", s=size)


def merge_windows(windows: torch.Tensor, axis: str, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """The inverse of `partition_windows`: windows (N, size, D) -> grid (B, T, H, W, D) for the
    grid `shape` (B, T, H, W) they were cut from."""
    batch, time, height, width = shape
    lengths = {"time": time, "height": height, "width": width}
    length = lengths[AXES[_check_axis(axis)]]
    size = windows.shape[1]
    lines = rearrange(windows, "(l n) s d -> l (n s) d", n=-(-length // size))[:, :length]
    others = {name: value for name, value in lengths.items() if name != axis}
    return rearrange(lines, _FROM_LINES[axis], b=batch, **{name[0]: value for name, value in others.items()})
