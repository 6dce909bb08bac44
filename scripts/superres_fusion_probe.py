"""Do a super-resolution stage's codes add anything a learned upsampler of the 64 px picture
does not already have? Two small per-frame convolution heads are trained the same way (same
crops, steps and seed) to turn bicubic upsampling of the decoded 64 px clip into the 128 px
render: one also sees the stage's predicted 128 px codes, decoded; the other sees bicubic
alone. Both start as bicubic (the last layer is zero-initialised, the output is bicubic plus
the head's correction). On compositional clips (the stage MaskGIT-decoding greedily, as
`videopoet upscale-tokens --temperature 0` does), the script prints PSNR against the 128 px render and the
evaluator's figures for bicubic, the decoded codes, and the two heads.

Training pairs come from `videopoet upscale-tokens` (the stage's codes for Shapes World
clips) and the renders of the same clips; `--decoder` is a video tokenizer whose decoder reads
128 px codes (e.g. the shipped one fine-tuned with `videopoet train tokenizer --decoder-only --size 128`):

    python scripts/superres_fusion_probe.py RUN/superres/checkpoint --decoder RUN/video-dec128/checkpoint \\
        --predicted RUN/sr-pred-128 --train-clips 128 --test-clips 32 --steps 1500
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from videopoet.data.shards import TokenShards
from videopoet.io.write import bicubic_resize, from_uint8_frames, to_uint8_frames
from videopoet.metrics import psnr
from videopoet.superres import DecodingConfig, SuperResTransformer, decode
from videopoet.tokenizers import VideoTokenizer
from videopoet.tokenizers.text import TextEncoder
from videopoet.world import parse, render_clip
from videopoet.world.evaluator import EvalReport, observe, score_clip

CROP = 64  # training crop (pixels) of the high-resolution frames (smaller frames: whole)
BATCH = 8  # frames per training step


class FusionHead(nn.Module):
    """bicubic (N, 3, H, W) [+ decoded codes (N, 3, H, W)] -> bicubic + correction (N, 3, H, W)."""

    def __init__(self, with_codes: bool, width: int = 32, depth: int = 5):
        super().__init__()
        self.with_codes = with_codes
        layers: list[nn.Module] = [nn.Conv2d(6 if with_codes else 3, width, 3, padding=1), nn.SiLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, bicubic: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        features = torch.cat([bicubic, decoded], 1) if self.with_codes else bicubic
        return bicubic + self.out(self.body(features))


def to_uint8(videos: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) in [-1, 1] -> (B, T, H, W, 3) uint8 (kept in memory compactly)."""
    return torch.stack([torch.from_numpy(to_uint8_frames(video)) for video in videos])


def to_frames(videos: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) -> (B T, 3, H, W)."""
    return videos.transpose(1, 2).flatten(0, 1)


@torch.no_grad()
def bicubic_of_decoded(tokenizer: VideoTokenizer, split: str, seeds: list[int], low: int, high: int, frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(low codes (B, t, h, w), decoded low clips (B, 3, T, low, low), their bicubic upsampling to high x high)."""
    codes = tokenizer.encode(torch.stack([from_uint8_frames(render_clip(split, seed, low, frames).video) for seed in seeds]))
    decoded = tokenizer.decode(codes).float()
    return codes, decoded, bicubic_resize(decoded, high)


@torch.no_grad()
def training_pairs(tokenizer: VideoTokenizer, decoder: VideoTokenizer, predicted: TokenShards, clips: int, low: int, high: int, frames: int) -> dict[str, torch.Tensor]:
    """uint8 (clips, T, high, high, 3) each: bicubic, decoded predicted codes, the true render,
    for the first `clips` clips of `predicted` (Shapes World clips, named by their sources)."""
    parts: dict[str, list[torch.Tensor]] = {"bicubic": [], "decoded": [], "truth": []}
    for start in tqdm(range(0, clips, 4), desc="training pairs", unit="batch"):
        rows = range(start, min(start + 4, clips))
        split, seeds = predicted.sources[start]["split"], [predicted.sources[row]["seed"] for row in rows]
        if any(predicted.sources[row]["split"] != split for row in rows):
            raise ValueError("the predicted clips of one batch come from different splits")
        bicubic = bicubic_of_decoded(tokenizer, split, seeds, low, high, frames)[2]
        codes = torch.stack([predicted.field(row, "video").long() for row in rows])
        parts["bicubic"].append(to_uint8(bicubic))
        parts["decoded"].append(to_uint8(decoder.decode(codes).float()))
        parts["truth"].append(torch.stack([torch.from_numpy(render_clip(split, seed, high, frames).video) for seed in seeds]))
    return {name: torch.cat(value) for name, value in parts.items()}


def train_head(head: FusionHead, pairs: dict[str, torch.Tensor], steps: int, lr: float, seed: int) -> FusionHead:
    """L1 + L2 on random CROP x CROP crops of random frames, AdamW with a cosine schedule."""
    clips, frames, size = pairs["truth"].shape[:3]
    crop_size = min(CROP, size)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(steps), desc=f"head {'with' if head.with_codes else 'without'} codes"):
        index = torch.randint(0, clips * frames, (BATCH,), generator=generator)
        y, x = torch.randint(0, size - crop_size + 1, (2,), generator=generator).tolist()

        def crop(name: str) -> torch.Tensor:
            picked = pairs[name][index // frames, index % frames, y : y + crop_size, x : x + crop_size]  # (BATCH, crop, crop, 3)
            return picked.permute(0, 3, 1, 2).float() / 127.5 - 1.0

        output, target = head(crop("bicubic"), crop("decoded")), crop("truth")
        loss = F.l1_loss(output, target) + F.mse_loss(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return head.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("superres", help="super-resolution stage checkpoint")
    parser.add_argument("--decoder", required=True, help="tokenizer checkpoint whose decoder makes 128 px frames of the stage's codes")
    parser.add_argument("--predicted", required=True, help="`videopoet upscale-tokens` shard folder: the stage's codes for Shapes World clips")
    parser.add_argument("--tokenizer", default="videopoet/pretrained/shapes-64/video_tokenizer", help="the 64 px tokenizer (the stage's input codes)")
    parser.add_argument("--train-clips", type=int, default=128)
    parser.add_argument("--test-clips", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.train_clips, args.test_clips, args.steps) < 1:
        parser.error("--train-clips, --test-clips and --steps must be positive")
    predicted = TokenShards(args.predicted)
    if len(predicted) < args.train_clips:
        parser.error(f"--predicted {args.predicted}: {len(predicted)} clips, fewer than --train-clips {args.train_clips}")
    if any("split" not in source for source in predicted.sources[: args.train_clips]):
        parser.error(f"--predicted {args.predicted}: its clips are not Shapes World clips (no split and seed to render them from)")

    torch.manual_seed(args.seed)
    tokenizer = VideoTokenizer.from_pretrained(args.tokenizer).eval()
    decoder = VideoTokenizer.from_pretrained(args.decoder).eval()
    superres = SuperResTransformer.from_pretrained(args.superres).eval()
    clip = superres.config.clip
    if not clip:
        parser.error(f"{args.superres}: the super-resolution config does not record the clips it was trained on (clip)")
    low, frames = clip["size"], clip["frames"]
    high = low * superres.config.scale
    pairs = training_pairs(tokenizer, decoder, predicted, args.train_clips, low, high, frames)
    heads = {}
    for name, with_codes in (("head with codes", True), ("head, bicubic alone", False)):
        torch.manual_seed(args.seed)  # both heads start from the same draw (but the first layer's extra inputs)
        heads[name] = train_head(FusionHead(with_codes), pairs, args.steps, args.lr, args.seed)

    text = TextEncoder.named(clip["text_encoder"], max_tokens=clip["text_length"])
    variants = ["bicubic", "decoded codes", *heads]
    psnrs: dict[str, list[float]] = {variant: [] for variant in variants}
    reports = {variant: EvalReport() for variant in [f"decoded {low}", *variants]}
    with torch.no_grad():
        for start in tqdm(range(0, args.test_clips, 4), desc="compositional clips", unit="batch"):
            seeds = list(range(start, min(start + 4, args.test_clips)))
            codes, decoded_low, bicubic = bicubic_of_decoded(tokenizer, "compositional", seeds, low, high, frames)
            captions = [render_clip("compositional", seed, low, frames).caption for seed in seeds]
            embedded = text(captions)
            high_codes = decode(superres, codes, embedded.embeddings, embedded.mask, DecodingConfig(temperature=0.0, seed=start))
            decoded_high = decoder.decode(high_codes).float()
            truths = torch.stack([from_uint8_frames(render_clip("compositional", seed, high, frames).video) for seed in seeds])
            outputs = {"bicubic": bicubic, "decoded codes": decoded_high}
            for name, head in heads.items():
                fused = head(to_frames(bicubic), to_frames(decoded_high)).clamp(-1, 1)
                outputs[name] = fused.unflatten(0, (len(seeds), -1)).transpose(1, 2)
            for row, caption in enumerate(captions):
                wanted = parse(caption)
                reports[f"decoded {low}"].add(score_clip(observe(decoded_low[row]), wanted))
                for variant in variants:
                    psnrs[variant].append(float(psnr(outputs[variant][row], truths[row])))
                    reports[variant].add(score_clip(observe(outputs[variant][row]), wanted))

    print(f"{args.test_clips} compositional clips, heads trained {args.steps} steps on {args.train_clips} train clips")
    attributes = list(reports["bicubic"].accuracy())
    print("variant".ljust(22) + "PSNR dB".rjust(9) + "".join(name.rjust(11) for name in attributes))
    for variant, report in reports.items():
        figure = f"{np.mean(psnrs[variant]):9.2f}" if variant in psnrs else " " * 9
        print(variant.ljust(22) + figure + "".join(f"{value:11.3f}" for value in report.accuracy().values()))


if __name__ == "__main__":
    main()
