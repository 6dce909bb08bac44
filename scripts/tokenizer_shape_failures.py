"""Where a video tokenizer loses shapes. Each Shapes World clip goes through encode/decode and
the evaluator reads every frame of every object on its own; the script prints, beside the same
figures for the original clips:

- per captioned shape and size: how many objects the evaluator misreads, and as what (an object
  is matched to the seen one of its colour; "missing" when none has it);
- for small squares and triangles (the hardest): the share of frames read right, grouped by
  what moves: nothing, the object (static camera), or the camera.

    python scripts/tokenizer_shape_failures.py                       # shipped tokenizer, 100 compositional clips
    python scripts/tokenizer_shape_failures.py runs/tok/checkpoint --clips 200 --split test
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

import numpy as np

from videopoet.io.write import from_uint8_frames
from videopoet.tokenizers import VideoTokenizer
from videopoet.tokenizers.measure import reconstruct
from videopoet.world.captions import parse
from videopoet.world.evaluator import observe
from videopoet.world.render import render_clip


class ShapeTally:
    """Shape readings of one set of clips against their captions."""

    def __init__(self):
        self.objects: Counter = Counter()  # (shape, size) -> captioned objects
        self.misread: dict[tuple[str, str], Counter] = defaultdict(Counter)  # (shape, size) -> {read as: n}
        self.frames: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # what moves -> [right, seen]

    def add(self, video: np.ndarray, caption: str) -> None:
        expected, seen = parse(caption), observe(video)
        for wanted in expected.objects:
            key = (wanted.shape, wanted.size)
            self.objects[key] += 1
            match = next((obj for obj in seen.objects if obj.colour == wanted.colour), None)
            if match is None:
                self.misread[key]["missing"] += 1
                continue
            if match.shape != wanted.shape:
                self.misread[key][match.shape] += 1
            if wanted.size == "small" and wanted.shape != "circle":
                tally = self.frames[_what_moves(wanted.motion, expected.camera)]
                readings = [shape for shape in match.frame_shapes if shape]
                tally[0] += sum(shape == wanted.shape for shape in readings)
                tally[1] += len(readings)


def _what_moves(motion: str, camera: str) -> str:
    if camera != "static":
        return f"camera: {camera}"
    return "nothing" if motion == "still" else f"object: {motion}"


def _misreadings(misread: Counter) -> str:
    return ", ".join(f"{n} missing" if shape == "missing" else f"{n} as {shape}" for shape, n in misread.most_common()) or "none"


def _share(right: int, seen: int) -> str:
    return f"{right / seen:.2f} ({seen})" if seen else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="tokenizer checkpoint, export or model directory (default: the package's, videopoet/pretrained/video-tokenizer-64)")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--split", default="compositional", choices=["train", "test", "compositional"])
    parser.add_argument("--size", type=int, help="clip size (default: the tokenizer's)")
    args = parser.parse_args()
    if args.clips < 1:
        parser.error(f"--clips {args.clips}: needs at least one clip")

    tokenizer = VideoTokenizer.from_pretrained(args.checkpoint).eval()
    size = args.size or tokenizer.config.image_size
    try:
        clips = [render_clip(args.split, seed, size=size) for seed in range(args.clips)]
        tokenizer.latent_shape(clips[0].video.shape[0], size, size)
    except ValueError as error:  # a size the world cannot render or the tokenizer cannot take
        parser.error(f"--size {size}: {error}")
    decoded, _ = reconstruct(tokenizer, [from_uint8_frames(clip.video) for clip in clips], progress=True)
    tokens, originals = ShapeTally(), ShapeTally()
    for clip, video in zip(clips, decoded):
        tokens.add(video, clip.caption)
        originals.add(clip.video, clip.caption)

    print(f"\n{args.clips} {args.split} clips at {size}x{size}: objects whose shape the evaluator misreads")
    print(f"{'shape, size':<18}{'objects':>8}  {'after encode/decode':<40}{'originals'}")
    for key in sorted(tokens.objects):
        wrong, original = _misreadings(tokens.misread[key]), _misreadings(originals.misread[key])
        print(f"{', '.join(key):<18}{tokens.objects[key]:>8}  {wrong:<40}{original}")

    print("\nsmall squares and triangles: share of frames read as the right shape (frames seen)")
    print(f"{'what moves':<22}{'after encode/decode':>20}{'originals':>14}")
    for group in sorted(tokens.frames):
        print(f"{group:<22}{_share(*tokens.frames[group]):>20}{_share(*originals.frames[group]):>14}")


if __name__ == "__main__":
    main()
