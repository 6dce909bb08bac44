"""The README's picture of generated clips: several tasks of a pipeline on compositional test
clips, with fixed seeds, as one contact sheet (each task's input row above its output row).

    python scripts/generation_examples.py -o docs/generation_examples.png
    python scripts/generation_examples.py --model runs/my-pipeline -o sheet.png
"""

from __future__ import annotations

import argparse

import numpy as np

from videopoet.io import save_contact_sheet
from videopoet.pipeline import VideoPoetPipeline
from videopoet.world import SceneDescription, describe
from videopoet.world.render import render_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="docs/generation_examples.png")
    parser.add_argument("--model", help="pipeline directory (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=3, help="pixels per generated pixel in the sheet")
    args = parser.parse_args()

    pipe = VideoPoetPipeline.from_pretrained(args.model, progress=False)
    size, seed = pipe.size, args.seed
    clip = render_clip("compositional", 1, size, pipe.frames)
    other = render_clip("compositional", 2, size, pipe.frames)
    videos, captions = [], []

    def add(video, caption):
        videos.append(video)
        captions.append(caption)

    add(pipe(clip.caption, audio=False, seed=seed).frames, f"text-to-video: {clip.caption}")
    camera = describe(SceneDescription(clip.scene.description.objects, "zoom in"))
    add(pipe(camera, audio=False, seed=seed).frames, f"text-to-video with camera: {camera}")
    add(pipe.image_to_video(other.video[0], other.caption, audio=False, seed=seed).frames, f"image-to-video (first frame given): {other.caption}")
    mask = np.zeros((size, size), dtype=bool)
    mask[size // 4 : size // 2 + size // 8, size // 4 : size // 2 + size // 8] = True
    masked = other.video.copy()
    masked[:, mask] = 0
    add(masked, "inpainting input (black: to fill)")
    add(pipe.inpaint(other.video, mask, other.caption, audio=False, seed=seed).frames, "inpainting output")
    add(pipe.continue_video(clip.video, seconds=1.5, audio=False, seed=seed).frames[-pipe.frames :], "continuation of the first row's test clip: its last 5 frames, then 12 generated")
    prompts = ["a large white circle moving right", "a large white circle moving up", "a large white circle bouncing"]
    add(pipe.story(prompts, audio=False, seed=seed).frames, "story: " + " / ".join(prompts))
    save_contact_sheet(args.output, videos, captions, frames_per_clip=8, scale=args.scale)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
