"""Task sequences: what the language model reads and writes.

Every task is one layout (VideoPoet's, our marker names), with absent parts left out:

    <task> <bot_i> text <eot_i> (<bov_i> video <eov_i>)* <boa_i> audio <eoa_i>
           <bov_o> video <eov_o> <boa_o> audio <eoa_o>

The prefix runs up to and including the first output marker (`<bov_o>` or `<boa_o>`); attention
is bidirectional inside it and causal after it, and the loss covers the outputs only (their end
markers included). Text is a fixed slot of `text_length` `<text>` placeholders right after
`<task> <bot_i>`; the model puts the projected text embeddings there, and positions past the
prompt's last token are masked out of attention. Video codes are laid out frame by frame, row by
row; audio codes level by level (all of level 0, then level 1, ...), as VideoPoet orders them.
Masked conditioning positions (inpainting, outpainting) hold `<mask>`.

Because a task's layout depends only on the shapes, all examples of a task have the same length
and the same prefix, which makes batching, guidance and KV caching simple.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .vocabulary import TASKS, Vocabulary

TEXT_START = 2  # <task> <bot_i> come first
MASKED = -1  # a masked conditioning code


@dataclass
class TaskExample:
    """One task instance as codes. condition_videos: each (t, h, w), MASKED where masked;
    condition_audio: (levels, frames); output_video: (t, h, w); output_audio: (levels, frames).
    For generation the outputs only give the shapes (their values are ignored)."""

    task: str
    text: bool
    condition_videos: list[torch.Tensor] = field(default_factory=list)
    condition_audio: torch.Tensor | None = None
    output_video: torch.Tensor | None = None
    output_audio: torch.Tensor | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; tasks: {', '.join(TASKS)}")
        if self.output_video is None and self.output_audio is None:
            raise ValueError(f"{self.task}: an example needs an output video or audio")
        for video in [*self.condition_videos, *([self.output_video] if self.output_video is not None else [])]:
            if video.dim() != 3:
                raise ValueError(f"{self.task}: video codes must be (t, h, w), got shape {tuple(video.shape)}")
        for audio in [a for a in (self.condition_audio, self.output_audio) if a is not None]:
            if audio.dim() != 2:
                raise ValueError(f"{self.task}: audio codes must be (levels, frames), got shape {tuple(audio.shape)}")


@dataclass
class TokenSequence:
    """tokens, loss_mask, condition_mask, legal_low, legal_high: (S,). The token at position s
    must lie in [legal_low[s], legal_high[s]) (for the prefix: the token that is there)."""

    task: str
    tokens: torch.Tensor
    prefix_length: int
    loss_mask: torch.Tensor
    condition_mask: torch.Tensor
    legal_low: torch.Tensor
    legal_high: torch.Tensor
    text_length: int

    def __len__(self) -> int:
        return self.tokens.shape[0]


class _Writer:
    """Appends pieces of a sequence with their legal ranges and roles."""

    def __init__(self):
        self.tokens: list[torch.Tensor] = []
        self.low: list[torch.Tensor] = []
        self.high: list[torch.Tensor] = []
        self.condition: list[torch.Tensor] = []
        self.length = 0

    def add(self, tokens: torch.Tensor, low: torch.Tensor | int, high: torch.Tensor | int, condition: bool = False) -> None:
        tokens = tokens.reshape(-1).long()
        n = tokens.shape[0]
        self.tokens.append(tokens)
        self.low.append(torch.as_tensor(low, dtype=torch.long).expand(n).clone())
        self.high.append(torch.as_tensor(high, dtype=torch.long).expand(n).clone())
        self.condition.append(torch.full((n,), condition))
        self.length += n

    def marker(self, token: int) -> None:
        self.add(torch.tensor([token]), token, token + 1)

    def cat(self, pieces: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(pieces)


def _video_pieces(vocab: Vocabulary, codes: torch.Tensor, mask_token: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t, h, w) codes (MASKED allowed) -> tokens and per-position legal [low, high), flat."""
    flat = codes.reshape(-1).long()
    masked = flat == MASKED
    tokens = torch.where(masked, torch.full_like(flat, mask_token), vocab.video_tokens(flat.clamp(min=0)))
    low, high = vocab.video_range()
    return tokens, torch.where(masked, mask_token, low), torch.where(masked, mask_token + 1, high)


def _audio_pieces(vocab: Vocabulary, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(levels, frames) codes -> tokens level by level and per-position legal [low, high)."""
    tokens = vocab.audio_tokens(codes)
    levels, frames = codes.shape
    low = torch.tensor([vocab.audio_range(level)[0] for level in range(levels)]).repeat_interleave(frames)
    return tokens.reshape(-1), low, low + vocab.audio_codes


def build_sequence(vocab: Vocabulary, example: TaskExample, text_length: int) -> TokenSequence:
    """Lay out `example` as a token sequence (see the module docstring)."""
    special = vocab.special
    mask_token = special("<mask>")
    out = _Writer()
    out.marker(vocab.task_token(example.task))
    if example.text:
        out.marker(special("<bot_i>"))
        text = special("<text>")
        out.add(torch.full((text_length,), text), text, text + 1)
        out.marker(special("<eot_i>"))
    for video in example.condition_videos:
        out.marker(special("<bov_i>"))
        out.add(*_video_pieces(vocab, video, mask_token), condition=True)
        out.marker(special("<eov_i>"))
    if example.condition_audio is not None:
        out.marker(special("<boa_i>"))
        out.add(*_audio_pieces(vocab, example.condition_audio), condition=True)
        out.marker(special("<eoa_i>"))
    prefix_length = None
    if example.output_video is not None:
        out.marker(special("<bov_o>"))
        prefix_length = out.length
        tokens, low, high = _video_pieces(vocab, example.output_video.clamp(min=0), mask_token)
        out.add(tokens, low, high)
        out.marker(special("<eov_o>"))
    if example.output_audio is not None:
        out.marker(special("<boa_o>"))
        prefix_length = prefix_length or out.length
        out.add(*_audio_pieces(vocab, example.output_audio))
        out.marker(special("<eoa_o>"))
    tokens = out.cat(out.tokens)
    loss_mask = torch.arange(tokens.shape[0]) >= prefix_length
    return TokenSequence(
        task=example.task,
        tokens=tokens,
        prefix_length=prefix_length,
        loss_mask=loss_mask,
        condition_mask=out.cat(out.condition),
        legal_low=out.cat(out.low),
        legal_high=out.cat(out.high),
        text_length=text_length if example.text else 0,
    )



def output_codes(vocab: Vocabulary, example: TaskExample, layout: TokenSequence, tokens: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Read the outputs back from a filled sequence: tokens (S,) laid out as `layout` (built
    from `example`) -> (video codes shaped like example.output_video, or None; audio codes
    (levels, frames), or None). ValueError when an output position holds a token of the wrong
    kind."""
    if tokens.shape != layout.tokens.shape:
        raise ValueError(f"tokens of shape {tuple(tokens.shape)} for a layout of {len(layout)} positions")
    position, video, audio = layout.prefix_length, None, None
    if example.output_video is not None:
        count = example.output_video.numel()
        video = vocab.video_codes_of(tokens[position : position + count]).reshape(example.output_video.shape)
        position += count + 2  # <eov_o> <boa_o>
    if example.output_audio is not None:
        count = example.output_audio.numel()
        audio = vocab.audio_codes_of(tokens[position : position + count].reshape(example.output_audio.shape))
    return video, audio


@dataclass
class SequenceBatch:
    """A padded batch. tokens, loss_mask, condition_mask, key_valid, legal_low, legal_high:
    (B, S); prefix_lengths, has_text: (B,); text: (B, L, D) embeddings for the text slot (zeros
    where there is none). key_valid is False at padding and at text positions past each prompt."""

    tokens: torch.Tensor
    loss_mask: torch.Tensor
    condition_mask: torch.Tensor
    key_valid: torch.Tensor
    prefix_lengths: torch.Tensor
    has_text: torch.Tensor
    text: torch.Tensor
    legal_low: torch.Tensor
    legal_high: torch.Tensor

    def to(self, device: torch.device | str) -> "SequenceBatch":
        return SequenceBatch(**{name: value.to(device) for name, value in vars(self).items()})

    def __len__(self) -> int:
        return self.tokens.shape[0]


def collate(
    vocab: Vocabulary,
    sequences: Sequence[TokenSequence],
    text: torch.Tensor | None = None,
    text_mask: torch.Tensor | None = None,
) -> SequenceBatch:
    """Pad sequences to the longest with `<pad>`. text: (B, L, D) and text_mask: (B, L) for the
    rows whose task has text (other rows' entries are ignored); needed when any row has text."""
    batch, length = len(sequences), max(len(sequence) for sequence in sequences)
    tokens = torch.full((batch, length), vocab.special("<pad>"), dtype=torch.long)
    loss_mask = torch.zeros(batch, length, dtype=torch.bool)
    condition_mask = torch.zeros_like(loss_mask)
    key_valid = torch.zeros_like(loss_mask)
    legal_low = tokens.clone()
    legal_high = tokens + 1
    has_text = torch.tensor([sequence.text_length > 0 for sequence in sequences])
    if bool(has_text.any()) and (text is None or text_mask is None):
        raise ValueError("collate: some sequences have a text slot, so text embeddings and their mask are needed")
    text_length = max(sequence.text_length for sequence in sequences)
    for row, sequence in enumerate(sequences):
        n = len(sequence)
        tokens[row, :n] = sequence.tokens
        loss_mask[row, :n] = sequence.loss_mask
        condition_mask[row, :n] = sequence.condition_mask
        key_valid[row, :n] = True
        legal_low[row, :n], legal_high[row, :n] = sequence.legal_low, sequence.legal_high
        if sequence.text_length:
            if text.shape[1] != sequence.text_length:
                raise ValueError(f"text embeddings of {text.shape[1]} tokens for a text slot of {sequence.text_length}")
            key_valid[row, TEXT_START : TEXT_START + sequence.text_length] = text_mask[row]
    if text is None:
        text = torch.zeros(batch, max(text_length, 1), 1)
    text = torch.where(has_text[:, None, None], text, torch.zeros_like(text))
    return SequenceBatch(
        tokens=tokens,
        loss_mask=loss_mask,
        condition_mask=condition_mask,
        key_valid=key_valid,
        prefix_lengths=torch.tensor([sequence.prefix_length for sequence in sequences]),
        has_text=has_text,
        text=text,
        legal_low=legal_low,
        legal_high=legal_high,
    )


def drop_condition(vocab: Vocabulary, batch: SequenceBatch, rows: torch.Tensor | None = None) -> SequenceBatch:
    """The unconditional version of `rows` (a (B,) bool, default all) for classifier-free
    guidance: a task with text loses its text (every text position masked out, the embeddings
    zeroed); a task without text has its conditioning codes replaced by `<mask>`. Training drops
    conditions with the same function, so guidance sees what training taught."""
    rows = torch.ones(len(batch), dtype=torch.bool, device=batch.tokens.device) if rows is None else rows
    text_rows = rows & batch.has_text
    code_rows = rows & ~batch.has_text
    key_valid = batch.key_valid.clone()
    text_length = batch.text.shape[1]
    key_valid[text_rows, TEXT_START : TEXT_START + text_length] = False
    text = torch.where(text_rows[:, None, None], torch.zeros_like(batch.text), batch.text)
    masked = batch.condition_mask & code_rows[:, None]
    tokens = torch.where(masked, torch.full_like(batch.tokens, vocab.special("<mask>")), batch.tokens)
    return SequenceBatch(
        tokens, batch.loss_mask, batch.condition_mask, key_valid, batch.prefix_lengths, batch.has_text, text, batch.legal_low, batch.legal_high
    )
