"""Training token super-resolution on pairs of token shards: the same clips tokenized at a low
and a high resolution (`videopoet tokenize --size 64` and `--size 128` of the same source).

Every example masks a share of one clip's high-resolution codes, drops the text or the
low-resolution grid now and then (for guidance) and puts noise on the low-resolution codes;
all of it is drawn from (seed, item index), so a resumed or multi-process run sees exactly
the data an uninterrupted one would. Validation is the masked-token loss on fixed examples of
held-out shards, beside a baseline that predicts from the low-resolution codes alone (each high
code's sub-codes from their frequencies under the same low code in training).

The stage's decoder (`SuperResDecoder`) trains on the stage's soft predictions (`expected_latent`,
computed by the frozen stage once per clip as training meets it, and kept) for the clips of a
low-resolution shard folder, beside their low-resolution codes, against the clips' renders at the
high size (`SuperResDecoderTask`).

`predict_high_codes` runs a trained stage over a shard folder and keeps its MaskGIT codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn
from torch.utils.data import Dataset

from ..checkpoint import save_model_files
from ..data.clips import busiest_window
from ..data.shards import TokenizedClip, TokenShards, write_token_shards
from ..io.write import from_uint8_frames
from ..superres import DecodingConfig, SuperResConfig, SuperResDecoder, SuperResTransformer, TrainingExample, collate_examples, decode, expected_latent, masked_token_loss, split_codes, training_example
from ..superres.decoder import CHECKPOINT_KIND as DECODER_KIND
from ..superres.model import CHECKPOINT_KIND
from ..world.render import render_video
from ..world.scene import sample_scene


def check_pair(low: TokenShards, high: TokenShards) -> int:
    """The scale between two shard folders of the same clips; ValueError naming what differs."""
    for key in ("source", "frames", "video_codes", "video_tokenizer", "text_encoder", "text_length"):
        if low.settings.get(key) != high.settings.get(key):
            raise ValueError(f"{low.folder} and {high.folder}: not the same clips and tokenizers ({key} differs: {low.settings.get(key)!r} vs {high.settings.get(key)!r})")
    scale, remainder = divmod(high.settings["size"], low.settings["size"])
    if remainder or scale < 2:
        raise ValueError(f"{low.folder} ({low.settings['size']} px) and {high.folder} ({high.settings['size']} px): the high size must be a multiple (2 or more) of the low size")
    return scale


class SuperResPairs(Dataset):
    """Item i: a `TrainingExample` of the clip drawn with (seed, i) from the clips both folders
    have finished."""

    def __init__(self, low: TokenShards, high: TokenShards, condition_dropout: float = 0.1, low_noise: float = 0.2, seed: int = 0, length: int = 2**40):
        self.scale = check_pair(low, high)
        self.low, self.high = low, high
        self.clips = min(len(low), len(high))
        self.codebook_size = int(low.settings["video_codes"])
        self.condition_dropout, self.low_noise, self.seed, self.length = condition_dropout, low_noise, seed, length

    def __len__(self) -> int:
        return self.length

    def example(self, clip: int, generator: torch.Generator, condition_dropout: float, low_noise: float) -> TrainingExample:
        return training_example(
            self.high.field(clip, "video"),
            self.low.field(clip, "video"),
            self.low.field(clip, "text"),
            self.low.field(clip, "text_mask"),
            self.codebook_size,
            generator,
            condition_dropout,
            low_noise,
        )

    def __getitem__(self, index: int) -> TrainingExample:
        rng = np.random.default_rng([self.seed, index])
        clip = int(rng.integers(self.clips))
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return self.example(clip, generator, self.condition_dropout, self.low_noise)

    def grid(self) -> tuple[int, int, int]:
        """The high-resolution grid (T, H, W) of every clip."""
        return tuple(self.high.field(0, "video").shape)


def config_for(pairs: SuperResPairs, **sizes) -> SuperResConfig:
    """A model for these pairs: their codebook, scale and grid; `sizes` set width, depth, heads..."""
    bits = int(math.log2(pairs.codebook_size))
    if 2**bits != pairs.codebook_size:
        raise ValueError(f"{pairs.low.folder}: {pairs.codebook_size} video codes is not a power of two (LFQ codes are bit patterns)")
    frames, height, width = pairs.grid()
    settings = pairs.low.settings
    clip = {"size": settings["size"], "frames": settings["frames"], "text_encoder": settings["text_encoder"], "text_length": settings["text_length"]}
    return SuperResConfig(codebook_bits=bits, factors=2 if bits % 2 == 0 else 1, scale=pairs.scale, text_dim=settings["text_dim"], max_frames=frames, max_height=height, max_width=width, clip=clip, **sizes)


class SuperResValidation:
    """Fixed examples of held-out pairs (mask shares drawn from the schedule, no dropout, no
    noise) for the validation loss and its baseline."""

    def __init__(self, pairs: SuperResPairs, examples: int = 32, batch_size: int = 8, seed: int = 0):
        self.pairs, self.batch_size = pairs, batch_size
        self.examples = [pairs.example(number % pairs.clips, torch.Generator().manual_seed(seed * 1_000_003 + number), 0.0, 0.0) for number in range(examples)]

    @torch.no_grad()
    def loss(self, model: SuperResTransformer) -> float:
        """Mean cross-entropy per masked sub-code."""
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for start in range(0, len(self.examples), self.batch_size):
            batch = collate_examples(self.examples[start : start + self.batch_size])
            batch = TrainingExample(*(getattr(batch, name).to(device) for name in TrainingExample.__dataclass_fields__))
            positions = int(batch.masked.sum()) * model.config.factors
            total += float(masked_token_loss(model, batch)) * positions
            count += positions
        return total / count

    def low_code_baseline(self, training: SuperResPairs, config: SuperResConfig, clips: int = 256) -> float:
        """The same figure for predicting each high code's sub-codes from their frequencies under
        the low code it sits on, counted over `clips` training clips (add-half smoothed)."""
        bits, factors, scale = config.codebook_bits, config.factors, training.scale
        counts = torch.full((2**bits, factors, config.sub_codes), 0.5, dtype=torch.float64)
        for clip in range(min(clips, training.clips)):
            under = repeat(training.low.field(clip, "video"), "t h w -> (t h a w b)", a=scale, b=scale)
            targets = split_codes(rearrange(training.high.field(clip, "video"), "t (h a) (w b) -> (t h a w b)", a=scale, b=scale), bits, factors)
            for factor in range(factors):
                counts[:, factor].index_put_((under, targets[:, factor]), torch.ones(len(under), dtype=torch.float64), accumulate=True)
        log_probability = (counts / counts.sum(-1, keepdim=True)).log()
        total, count = 0.0, 0
        for example in self.examples:
            under = repeat(example.low, "t h w -> t (h a) (w b)", a=scale, b=scale)[example.masked]  # (N,)
            targets = split_codes(example.high[example.masked], bits, factors)  # (N, F)
            total -= float(log_probability[under[:, None], torch.arange(factors), targets].sum())
            count += targets.numel()
        return total / count


class SuperResTask:
    """The TrainTask of token super-resolution (see train.loop)."""

    def __init__(self, model: SuperResTransformer, data: SuperResPairs, validation: SuperResValidation | None = None):
        self.model, self.data, self.validation = model, data, validation
        self.forward_model: nn.Module = model

    def modules(self) -> dict[str, nn.Module]:
        return {"superres": self.model}

    def phases(self) -> list[str]:
        return ["superres"]

    def parameters(self, phase: str):
        return self.model.parameters()

    def dataset(self) -> Dataset:
        return self.data

    def collate(self, items: Sequence[TrainingExample]) -> TrainingExample:
        return collate_examples(list(items))

    def distribute(self, wrap) -> None:
        self.forward_model = wrap(self.model)

    def loss(self, phase: str, batch: TrainingExample, step: int):
        loss = masked_token_loss(self.forward_model, batch, self.model.config)
        return loss, {"loss": float(loss.detach())}

    def validate(self) -> dict[str, float]:
        return {"val_loss": self.validation.loss(self.model)} if self.validation else {}

    def export(self, directory: Path, states: dict[str, dict] | None = None) -> None:
        """Write the model; `states` holds its full state dict when the model is sharded (FSDP)."""
        save_model_files(directory, self.model, CHECKPOINT_KIND, self.model.config.to_dict(), state=states["superres"] if states else None)


@dataclass
class DecoderExample:
    """One clip for the stage's decoder: clip, its index (0-d); low (t, h, w) codes, text (L, E)
    and text_valid (L,) (the stage's input); video (3, T, H, W): the clip's render at the high
    size; corner (2,): the top-left cell, on the high-resolution grid, of the window the decoder
    trains on."""

    clip: torch.Tensor
    low: torch.Tensor
    text: torch.Tensor
    text_valid: torch.Tensor
    video: torch.Tensor
    corner: torch.Tensor


class DecoderClips(Dataset):
    """Item i: a `DecoderExample` of the clip drawn with (seed, i) from the first `clips` (all by
    default) of a low-resolution shard folder of Shapes World clips, rendered at `scale` times its
    size. The window (`crop` pixels square, aligned to the low grid) is the busiest of
    `candidates` drawn (the largest pixel spread), so few are flat background; without `crop`,
    the whole frame."""

    def __init__(self, low: TokenShards, scale: int, spatial_factor: int, crop: int | None = None, seed: int = 0, candidates: int = 1, clips: int | None = None, length: int = 2**40):
        source = low.settings.get("source", {})
        if source.get("kind") != "shapes_world":
            raise ValueError(f"{low.folder}: holds {source.get('kind')!r} clips; the decoder trains on Shapes World clips only (their renders are the targets)")
        self.size, self.frames = int(low.settings["size"]) * scale, int(low.settings["frames"])
        self.cell = spatial_factor * scale  # pixels of one low-resolution cell at the high size
        if crop is not None and (crop <= 0 or crop % self.cell or crop > self.size):
            raise ValueError(f"crop {crop}: must be a positive multiple of {self.cell} pixels (a low-resolution cell at the high size), at most the clips' {self.size}")
        self.clips = len(low) if clips is None else clips
        if not 0 < self.clips <= len(low):
            raise ValueError(f"clips={clips}: {low.folder} holds {len(low)} clips")
        self.low, self.scale, self.factor, self.crop = low, scale, spatial_factor, crop or self.size
        self.seed, self.candidates, self.length = seed, candidates, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> DecoderExample:
        rng = np.random.default_rng([self.seed, index])
        clip = int(rng.integers(self.clips))
        source = self.low.sources[clip]
        video = from_uint8_frames(render_video(sample_scene(source["split"], source["seed"]), self.size, self.frames))
        steps = (self.size - self.crop) // self.cell + 1
        corners = rng.integers(steps, size=(self.candidates, 2)) * self.cell  # pixels
        best = corners[busiest_window(video, [tuple(corner) for corner in corners], self.crop)]
        return DecoderExample(
            torch.tensor(clip), self.low.field(clip, "video"), self.low.field(clip, "text"), self.low.field(clip, "text_mask"),
            video, torch.as_tensor(best // self.factor),
        )


class SuperResDecoderTask:
    """The TrainTask of the stage's decoder: L1 + L2 against the render, in a window, of the
    decoder's output for the frozen stage's soft prediction (`expected_latent`, guided as
    `decoding` says) and the low-resolution codes. The stage's prediction of a clip is made the
    first time a batch holds it and kept (it depends on the clip alone): a pass of the stage
    costs about as much as a training step of the decoder."""

    def __init__(self, decoder: SuperResDecoder, superres: SuperResTransformer, data: DecoderClips, decoding: DecodingConfig | None = None):
        if decoder.config.scale != superres.config.scale or decoder.config.bits != superres.config.codebook_bits:
            raise ValueError(f"the decoder reads {decoder.config.bits}-bit codes at scale {decoder.config.scale}, the stage makes {superres.config.codebook_bits}-bit codes at scale {superres.config.scale}")
        self.decoder, self.superres, self.data = decoder, superres.eval().requires_grad_(False), data
        self.decoding = decoding or DecodingConfig()
        self.forward_model: nn.Module = decoder
        self._latents: dict[int, torch.Tensor] = {}

    def modules(self) -> dict[str, nn.Module]:
        return {"superres_decoder": self.decoder}

    def phases(self) -> list[str]:
        return ["superres_decoder"]

    def parameters(self, phase: str):
        return self.decoder.parameters()

    def dataset(self) -> Dataset:
        return self.data

    def collate(self, items: Sequence[DecoderExample]) -> DecoderExample:
        return DecoderExample(*(torch.stack([getattr(item, name) for item in items]) for name in DecoderExample.__dataclass_fields__))

    def distribute(self, wrap) -> None:
        self.forward_model = wrap(self.decoder)

    def windows(self, batch: DecoderExample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training windows: high latent (B, bits, t, c, c), low codes (B, t, c / scale,
        c / scale) and video (B, 3, T, c f, c f), c = crop / f cells (f: spatial factor)."""
        latent = self.stage_latents(batch)
        cells, scale, factor = self.data.crop // self.data.factor, self.data.scale, self.data.factor
        highs, lows, videos = [], [], []
        for row, (top, left) in enumerate(batch.corner.tolist()):
            highs.append(latent[row, :, :, top : top + cells, left : left + cells])
            lows.append(batch.low[row, :, top // scale : (top + cells) // scale, left // scale : (left + cells) // scale])
            videos.append(batch.video[row, ..., top * factor : (top + cells) * factor, left * factor : (left + cells) * factor])
        return torch.stack(highs), torch.stack(lows), torch.stack(videos)

    def stage_latents(self, batch: DecoderExample) -> torch.Tensor:
        """The stage's soft prediction (B, bits, t, H, W) of every clip of the batch (float32),
        from the kept ones where there are."""
        clips = batch.clip.tolist()
        new = sorted({clip for clip in clips if clip not in self._latents})
        with torch.autocast(batch.low.device.type, enabled=False):  # CPU autocast refuses to stack the kept float16
            if new:
                rows = [clips.index(clip) for clip in new]
                self.superres.to(batch.low.device)
                latents = expected_latent(self.superres, batch.low[rows], batch.text[rows], batch.text_valid[rows], self.decoding)
                self._latents.update({clip: latent.half() for clip, latent in zip(new, latents)})
            return torch.stack([self._latents[clip] for clip in clips]).to(batch.low.device).float()

    def loss(self, phase: str, batch: DecoderExample, step: int):
        high, low, target = self.windows(batch)
        output = self.forward_model(high, low).float()
        l1, l2 = F.l1_loss(output, target), F.mse_loss(output, target)
        loss = l1 + l2
        return loss, {"loss": float(loss.detach()), "psnr": float(10 * torch.log10(4.0 / l2.detach().clamp_min(1e-10)))}

    def export(self, directory: Path, states: dict[str, dict] | None = None) -> None:
        save_model_files(directory, self.decoder, DECODER_KIND, self.decoder.config.to_dict())


def predict_high_codes(
    superres: SuperResTransformer,
    low: TokenShards,
    out: str | Path,
    clips: int | None = None,
    decoding: DecodingConfig | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> Path:
    """Token shards (video codes, text and captions) of the stage's high-resolution codes for
    the first `clips` clips of `low` (all by default), MaskGIT-decoded as `decoding` says
    (seeded per batch). Resumable like `videopoet tokenize`."""
    decoding = decoding or DecodingConfig(seed=0)
    count = len(low) if clips is None else clips
    if not 0 < count <= len(low):
        raise ValueError(f"clips={clips}: {low.folder} holds {len(low)} clips")
    device = next(superres.parameters()).device
    settings = {
        **low.settings,
        "fields": ["video"],
        "size": low.settings["size"] * superres.config.scale,
        "predicted_by": {"superres": superres.config.to_dict(), "decoding": asdict(decoding)},
    }

    def predict(indices: Sequence[int]) -> list[TokenizedClip]:
        codes = torch.stack([low.field(index, "video") for index in indices]).to(device)
        text = torch.stack([low.field(index, "text") for index in indices]).to(device)
        valid = torch.stack([low.field(index, "text_mask") for index in indices]).to(device)
        high = decode(superres, codes, text, valid, replace(decoding, seed=(decoding.seed or 0) + indices[0])).cpu().numpy()
        return [
            TokenizedClip(high[row], None, None, None, text[row].cpu().numpy(), valid[row].cpu().numpy(), low.captions[index], low.sources[index])
            for row, index in enumerate(indices)
        ]

    return write_token_shards(out, count, predict, settings, shard_size=256, batch_size=batch_size, progress=progress)
