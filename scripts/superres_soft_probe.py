"""Does decoding the stage's *expected* codes beat decoding a sample of them?

The stage predicts, for every high-resolution position, a distribution over codes. MaskGIT
decoding commits to one code per position; where the stage is unsure (fine texture the 64 px
codes do not hold) a wrong code decodes to a wrong picture, and PSNR punishes it. Here the
stage also runs once on an all-masked grid and every LFQ bit becomes its expected value under
the predicted distribution, a number in [-1, 1] instead of a sign (`expected_latent`, what the
pipeline's `upscale` now decodes; this probe decodes it by the high grid alone).

Two decoders start from the same weights and train alike (same clips, crops, steps and seed)
against the true 128 px renders of train clips the stage never saw: one on those soft latents,
one on the stage's greedy MaskGIT codes (`videopoet upscale-tokens --temperature 0`). Printed, on
compositional clips: PSNR against the 128 px render and the evaluator's figures for bicubic
upsampling of the decoded 64 px clip (the bar), each decoder on its own input, and the true
128 px codes through the soft-trained decoder (the ceiling).

    python scripts/superres_soft_probe.py RUN/superres/checkpoint --train-clips 256 --test-clips 48 --steps 300 --bf16
"""

from __future__ import annotations

import argparse
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from videopoet.io.write import bicubic_resize, from_uint8_frames
from videopoet.metrics import psnr
from videopoet.superres import DecodingConfig, SuperResTransformer, decode, expected_latent
from videopoet.tokenizers import VideoTokenizer
from videopoet.tokenizers.text import TextEncoder
from videopoet.world import parse, render_clip
from videopoet.world.evaluator import EvalReport, observe, score_clip

TRAIN_SEED_START = 100_000  # train-split clips far past any the stage was trained on


@torch.no_grad()
def clip_batch(tokenizer, superres, text_encoder, split: str, seeds: list[int], low: int, high: int, frames: int) -> dict[str, torch.Tensor]:
    """For Shapes World clips: the soft 128 px latent and the latent of the stage's greedy codes,
    the true 128 px render, the decoded 64 px clip and its bicubic upsampling, the true 128 px
    codes and the captions."""
    low_clips = [render_clip(split, seed, low, frames) for seed in seeds]
    truth = torch.stack([from_uint8_frames(render_clip(split, seed, high, frames).video) for seed in seeds])
    codes = tokenizer.encode(torch.stack([from_uint8_frames(clip.video) for clip in low_clips]))
    captions = [clip.caption for clip in low_clips]
    embedded = text_encoder(captions)
    decoded = tokenizer.decode(codes).float()
    return {
        "soft": expected_latent(superres, codes, embedded.embeddings, embedded.mask),
        "greedy": tokenizer.quantizer.codes_to_latent(decode(superres, codes, embedded.embeddings, embedded.mask, DecodingConfig(temperature=0.0, seed=seeds[0]))),
        "truth": truth,
        "decoded": decoded,
        "bicubic": bicubic_resize(decoded, high),
        "high_codes": tokenizer.encode(truth),
        "captions": captions,
    }


def train_decoder(decoder: VideoTokenizer, latents: torch.Tensor, truth: torch.Tensor, steps: int, lr: float, crop: int, batch: int, seed: int, bf16: bool, name: str) -> VideoTokenizer:
    """The decoder alone, L1 + L2 on random crops (`crop` latent cells square) of latents
    (N, bits, t, H, W) against the renders (N, 3, T, H f, W f); AdamW, 20 warm-up steps, cosine;
    the forward pass in bf16 autocast with `bf16`."""
    decoder = copy.deepcopy(decoder).train()
    parameters = list(decoder.decoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    warmup = min(20, steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))
    generator = torch.Generator().manual_seed(seed)
    cells, factor = latents.shape[-1], truth.shape[-1] // latents.shape[-1]
    progress = tqdm(range(steps), desc=f"decoder on {name} latents")
    for _ in progress:
        rows = torch.randint(0, len(latents), (batch,), generator=generator)
        y, x = torch.randint(0, cells - crop + 1, (2,), generator=generator).tolist()
        latent = latents[rows, :, :, y : y + crop, x : x + crop]
        target = truth[rows, :, :, y * factor : (y + crop) * factor, x * factor : (x + crop) * factor]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = decoder.decoder(latent).float()
        loss = F.l1_loss(output, target) + F.mse_loss(output, target)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        progress.set_postfix(psnr=f"{10 * math.log10(4 / F.mse_loss(output.clamp(-1, 1), target).item()):.2f}")
    return decoder.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("superres", help="super-resolution stage checkpoint")
    parser.add_argument("--tokenizer", default="videopoet/pretrained/shapes-64/video_tokenizer", help="the tokenizer whose codes the stage reads and predicts")
    parser.add_argument("--decoder", help="tokenizer whose decoder starts the training (default: --tokenizer)")
    parser.add_argument("--train-clips", type=int, default=256)
    parser.add_argument("--test-clips", type=int, default=48)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--crop", type=int, default=16, help="training crop in latent cells (16: 64 px)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="train the decoder in bf16 autocast (faster on CPUs with AVX-512 BF16)")
    args = parser.parse_args()
    if min(args.train_clips, args.test_clips, args.steps, args.crop, args.batch_size) < 1:
        parser.error("--train-clips, --test-clips, --steps, --crop and --batch-size must be positive")

    torch.manual_seed(args.seed)
    tokenizer = VideoTokenizer.from_pretrained(args.tokenizer).float().eval()
    decoder = VideoTokenizer.from_pretrained(args.decoder or args.tokenizer).float().eval()
    superres = SuperResTransformer.from_pretrained(args.superres).float().eval()
    clip = superres.config.clip
    if not clip:
        parser.error(f"{args.superres}: the super-resolution config does not record the clips it was trained on (clip)")
    low, frames = clip["size"], clip["frames"]
    high = low * superres.config.scale
    text_encoder = TextEncoder.named(clip["text_encoder"], max_tokens=clip["text_length"])

    latents: dict[str, list[torch.Tensor]] = {"soft": [], "greedy": [], "truth": []}
    for start in tqdm(range(0, args.train_clips, 8), desc="stage outputs for train clips", unit="batch"):
        seeds = list(range(TRAIN_SEED_START + start, TRAIN_SEED_START + min(start + 8, args.train_clips)))
        parts = clip_batch(tokenizer, superres, text_encoder, "train", seeds, low, high, frames)
        for name in latents:
            latents[name].append(parts[name].half())
    stacked = {name: torch.cat(value).float() for name, value in latents.items()}
    soft = stacked["soft"]
    print(f"soft latents: mean |bit| {soft.abs().mean():.3f} (1: certain), share of bits with |value| > 0.9: {(soft.abs() > 0.9).float().mean():.3f}")
    trained = {
        name: train_decoder(decoder, stacked[name], stacked["truth"], args.steps, args.lr, args.crop, args.batch_size, args.seed, args.bf16, name)
        for name in ("soft", "greedy")
    }
    del latents, stacked, soft

    variants = ["bicubic", "greedy codes, its decoder", "soft, its decoder", "true codes, soft decoder"]
    psnrs: dict[str, list[float]] = {variant: [] for variant in variants}
    reports = {variant: EvalReport() for variant in [f"decoded {low}", *variants]}
    with torch.no_grad():
        for start in tqdm(range(0, args.test_clips, 4), desc="compositional clips", unit="batch"):
            seeds = list(range(start, min(start + 4, args.test_clips)))
            parts = clip_batch(tokenizer, superres, text_encoder, "compositional", seeds, low, high, frames)
            outputs = {
                "bicubic": parts["bicubic"],
                "greedy codes, its decoder": trained["greedy"].decoder(parts["greedy"]).clamp(-1, 1),
                "soft, its decoder": trained["soft"].decoder(parts["soft"]).clamp(-1, 1),
                "true codes, soft decoder": trained["soft"].decode(parts["high_codes"]),
            }
            for row, caption in enumerate(parts["captions"]):
                wanted = parse(caption)
                reports[f"decoded {low}"].add(score_clip(observe(parts["decoded"][row]), wanted))
                for variant in variants:
                    psnrs[variant].append(float(psnr(outputs[variant][row], parts["truth"][row])))
                    reports[variant].add(score_clip(observe(outputs[variant][row]), wanted))

    print(f"{args.test_clips} compositional clips; decoders trained {args.steps} steps on the stage's outputs for {args.train_clips} train clips")
    attributes = list(reports["bicubic"].accuracy())
    print("variant".ljust(30) + "PSNR dB".rjust(9) + "".join(name.rjust(11) for name in attributes))
    for variant, report in reports.items():
        figure = f"{np.mean(psnrs[variant]):9.2f}" if variant in psnrs else " " * 9
        print(variant.ljust(30) + figure + "".join(f"{value:11.3f}" for value in report.accuracy().values()))


if __name__ == "__main__":
    main()
