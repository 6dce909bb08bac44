"""Can token super-resolution through a video tokenizer beat bicubic upsampling at all?

For each tokenizer, on Shapes World compositional clips rendered at the low and the high size:
- ceiling: the high-resolution render encoded and decoded (a perfect super-resolution stage
  predicts exactly these codes, so it can do no better);
- bicubic: the low-resolution render encoded, decoded and upsampled bicubically (the baseline
  a stage has to beat);
- low: the low-resolution reconstruction against its own render (for reference);
all PSNR in dB against the true render, in one run.

    python benchmarks/superres_ceiling.py --clips 20
    python benchmarks/superres_ceiling.py --clips 20 runs/video-dec128/checkpoint
"""

from __future__ import annotations

import argparse
import platform

import torch
from tqdm import tqdm

from videopoet.io.write import bicubic_resize, from_uint8_frames
from videopoet.metrics import psnr
from videopoet.pretrained import DEFAULT_MODEL
from videopoet.tokenizers import VideoTokenizer
from videopoet.tokenizers.measure import reconstruct
from videopoet.world.render import render_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizers", nargs="*", help="tokenizer checkpoints or model directories besides the shipped model's")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--low", type=int, default=64, help="low size (pixels)")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--frames", type=int, default=17)
    args = parser.parse_args()

    tokenizers = {"shipped model's": VideoTokenizer.from_pretrained(DEFAULT_MODEL)} | {path: VideoTokenizer.from_pretrained(path) for path in args.tokenizers}
    high = args.low * args.scale
    sums = {name: {"ceiling": 0.0, "bicubic": 0.0, "low": 0.0} for name in tokenizers}
    for seed in tqdm(range(args.clips), desc="clips", unit="clip"):
        truth_high = from_uint8_frames(render_clip("compositional", seed, high, args.frames).video)
        truth_low = from_uint8_frames(render_clip("compositional", seed, args.low, args.frames).video)
        for name, tokenizer in tokenizers.items():
            (reconstructed_high, reconstructed_low), _ = reconstruct(tokenizer, [truth_high, truth_low], batch_size=1)
            sums[name]["ceiling"] += float(psnr(reconstructed_high, truth_high))
            sums[name]["bicubic"] += float(psnr(bicubic_resize(reconstructed_low[None], high)[0], truth_high))
            sums[name]["low"] += float(psnr(reconstructed_low, truth_low))

    print(f"{platform.machine()}, {torch.get_num_threads()} threads, {args.clips} compositional clips, {args.low} -> {high} px")
    print(f"| tokenizer | ceiling at {high} (dB) | bicubic from {args.low} (dB) | ceiling - bicubic | {args.low} reconstruction (dB) |")
    print("|---|---|---|---|---|")
    for name, figures in sums.items():
        ceiling, baseline, low = (figures[key] / args.clips for key in ("ceiling", "bicubic", "low"))
        print(f"| {name} | {ceiling:.2f} | {baseline:.2f} | {ceiling - baseline:+.2f} | {low:.2f} |")


if __name__ == "__main__":
    main()
