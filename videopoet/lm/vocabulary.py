"""The one token space of the language model.

Ids, in order: the special tokens (padding, mask, the text placeholder, the begin/end markers of
every part of a sequence, one token per task), then the video codes, then the audio codes of
each residual level in turn:

    [ specials | video codes (video_codes) | audio level 0 | audio level 1 | ... ]

The vocabulary is saved in the model's config, so a checkpoint always knows its own token space.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

TASKS = (
    "text_to_video",
    "text_to_image",
    "unconditional_video",
    "image_to_video",
    "frame_continuation",
    "inpainting",
    "outpainting",
    "stylization",
    "video_to_audio",
    "audio_to_video",
    "audio_video_continuation",
)

# `<text>` holds the place of one text-embedding position; `_i` markers delimit the conditioning
# (input) parts of a sequence, `_o` markers its outputs.
MARKERS = (
    "<pad>",
    "<mask>",
    "<text>",
    "<bot_i>",
    "<eot_i>",
    "<bov_i>",
    "<eov_i>",
    "<boa_i>",
    "<eoa_i>",
    "<bov_o>",
    "<eov_o>",
    "<boa_o>",
    "<eoa_o>",
)


def task_token_name(task: str) -> str:
    return f"<task:{task}>"


@dataclass(frozen=True)
class Vocabulary:
    """Token ids for `video_codes` video codes and `audio_levels` x `audio_codes` audio codes."""

    video_codes: int
    audio_codes: int
    audio_levels: int

    def __post_init__(self):
        if min(self.video_codes, self.audio_codes, self.audio_levels) < 1:
            raise ValueError(f"vocabulary sizes must be positive: {self}")

    @property
    def specials(self) -> tuple[str, ...]:
        return MARKERS + tuple(task_token_name(task) for task in TASKS)

    def special(self, name: str) -> int:
        """The id of a special token, e.g. "<bov_o>"; a task's token is `task_token(task)`."""
        try:
            return self.specials.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not a special token of this vocabulary") from None

    def task_token(self, task: str) -> int:
        if task not in TASKS:
            raise KeyError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
        return self.special(task_token_name(task))

    @property
    def video_offset(self) -> int:
        return len(self.specials)

    def audio_offset(self, level: int) -> int:
        if not 0 <= level < self.audio_levels:
            raise ValueError(f"audio level {level}: this vocabulary has levels 0..{self.audio_levels - 1}")
        return self.video_offset + self.video_codes + level * self.audio_codes

    @property
    def size(self) -> int:
        return self.video_offset + self.video_codes + self.audio_levels * self.audio_codes

    def video_range(self) -> tuple[int, int]:
        """[start, stop) of the video-code ids."""
        return self.video_offset, self.video_offset + self.video_codes

    def audio_range(self, level: int) -> tuple[int, int]:
        """[start, stop) of the ids of audio level `level`'s codes."""
        start = self.audio_offset(level)
        return start, start + self.audio_codes

    def video_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """Video codes (any shape) in [0, video_codes) -> token ids."""
        _check_codes(codes, self.video_codes, "video")
        return codes.long() + self.video_offset

    def video_codes_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids of video codes -> the codes; ValueError if any id is not a video code."""
        codes = tokens.long() - self.video_offset
        _check_codes(codes, self.video_codes, "video token")
        return codes

    def audio_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """Audio codes (..., levels, frames) -> token ids, each level in its own range."""
        if codes.shape[-2] > self.audio_levels:
            raise ValueError(f"audio codes with {codes.shape[-2]} levels: the vocabulary has {self.audio_levels}")
        _check_codes(codes, self.audio_codes, "audio")
        levels = torch.arange(codes.shape[-2], device=codes.device).unsqueeze(-1)
        return codes.long() + self.video_offset + self.video_codes + levels * self.audio_codes

    def audio_codes_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids (..., levels, frames) -> audio codes; ValueError if an id is off its level."""
        levels = torch.arange(tokens.shape[-2], device=tokens.device).unsqueeze(-1)
        codes = tokens.long() - self.video_offset - self.video_codes - levels * self.audio_codes
        _check_codes(codes, self.audio_codes, "audio token")
        return codes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Vocabulary":
        return cls(**values)


def _check_codes(codes: torch.Tensor, size: int, what: str) -> None:
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= size):
        raise ValueError(f"{what} codes must lie in [0, {size}), got [{int(codes.min())}, {int(codes.max())}]")
