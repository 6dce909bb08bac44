"""Contact sheets: a few frames of each clip in a row, with its caption underneath."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .write import VideoLike, save_image, to_uint8_frames

_GAP = 4
_TEXT_COLOUR = (235, 235, 235)
_SHEET_COLOUR = (24, 24, 28)


def contact_sheet(
    videos: Sequence[VideoLike],
    captions: Sequence[str] | None = None,
    frames_per_clip: int = 6,
    scale: int = 2,
    font_size: int = 13,
) -> Image.Image:
    """One row per clip: `frames_per_clip` evenly spaced frames, each upscaled `scale` times
    (nearest neighbour, so pixels stay visible), and the caption wrapped beneath."""
    if not videos:
        raise ValueError("contact_sheet: no videos given")
    if captions is not None and len(captions) != len(videos):
        raise ValueError(f"contact_sheet: {len(videos)} videos but {len(captions)} captions")
    rows = []
    for video in videos:
        frames = to_uint8_frames(video)
        picks = np.linspace(0, len(frames) - 1, min(frames_per_clip, len(frames))).round().astype(int)
        strip = [np.kron(frames[i], np.ones((scale, scale, 1), dtype=np.uint8)) for i in picks]
        pad = np.full((strip[0].shape[0], _GAP, 3), _SHEET_COLOUR, dtype=np.uint8)
        rows.append(np.concatenate([part for frame in strip for part in (frame, pad)][:-1], axis=1))
    width = max(row.shape[1] for row in rows) + 2 * _GAP
    font = ImageFont.load_default(size=font_size)
    chars_per_line = max(20, int(width / (0.55 * font_size)))
    blocks = []
    for index, row in enumerate(rows):
        lines = textwrap.wrap(captions[index], chars_per_line) if captions else []
        text_height = len(lines) * (font_size + 3) + (_GAP if lines else 0)
        block = Image.new("RGB", (width, row.shape[0] + text_height + 2 * _GAP), _SHEET_COLOUR)
        block.paste(Image.fromarray(row), (_GAP, _GAP))
        draw = ImageDraw.Draw(block)
        for number, line in enumerate(lines):
            draw.text((_GAP, row.shape[0] + 2 * _GAP + number * (font_size + 3)), line, fill=_TEXT_COLOUR, font=font)
        blocks.append(block)
    sheet = Image.new("RGB", (width, sum(block.height for block in blocks)), _SHEET_COLOUR)
    top = 0
    for block in blocks:
        sheet.paste(block, (0, top))
        top += block.height
    return sheet


def save_contact_sheet(path: str | os.PathLike, videos: Sequence[VideoLike], captions: Sequence[str] | None = None, **options) -> Path:
    """Make a contact sheet (see `contact_sheet`) and write it as PNG, atomically."""
    return save_image(path, contact_sheet(videos, captions, **options))
