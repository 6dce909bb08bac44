"""The README's side-by-side picture of token super-resolution: compositional test clips at
64x64 through the video tokenizer (shown at 2x, nearest neighbour), bicubic upsampling of that
to 128x128, the super-resolution stage's 128x128 output from the 64x64 codes, and the true
128x128 render.

    python scripts/superres_examples.py -o docs/superres_examples.png
    python scripts/superres_examples.py --model runs/my-pipeline --clips 3 -o sheet.png
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from videopoet.io import save_contact_sheet
from videopoet.io.write import bicubic_resize, from_uint8_frames, to_uint8_frames
from videopoet.pipeline import VideoPoetPipeline
from videopoet.superres import expected_latent
from videopoet.world.render import render_clip


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="docs/superres_examples.png")
    parser.add_argument("--model", help="pipeline directory with a superres/ part (default: the shipped model)")
    parser.add_argument("--clips", type=int, default=2, help="compositional test clips (seeds 0 ..)")
    args = parser.parse_args()

    pipe = VideoPoetPipeline.from_pretrained(args.model, progress=False)
    if pipe.superres is None:
        raise SystemExit(f"{args.model or 'the shipped model'}: has no super-resolution stage")
    low_size, high_size = pipe.superres.config.clip["size"], pipe.upscaled_size
    scale = high_size // low_size
    videos, captions = [], []
    for seed in range(args.clips):
        clip = render_clip("compositional", seed, low_size, pipe.frames)
        truth = render_clip("compositional", seed, high_size, pipe.frames).video
        codes = pipe.video_tokenizer.encode(from_uint8_frames(clip.video)[None])
        low = pipe.video_tokenizer.decode(codes).float()
        text = pipe.text_encoder([clip.caption])
        upscaled = pipe.superres_decoder.decode(expected_latent(pipe.superres, codes, text.embeddings, text.mask), codes)
        nearest = np.kron(to_uint8_frames(low[0]), np.ones((1, scale, scale, 1), dtype=np.uint8))
        videos += [nearest, to_uint8_frames(bicubic_resize(low, high_size)[0]), to_uint8_frames(upscaled[0].float()), truth]
        captions += [
            f"{clip.caption}: {low_size}x{low_size} through the tokenizer (shown {scale}x)",
            f"bicubic to {high_size}x{high_size}",
            f"token super-resolution to {high_size}x{high_size}",
            f"true {high_size}x{high_size} render",
        ]
    save_contact_sheet(args.output, videos, captions, frames_per_clip=4, scale=1)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
