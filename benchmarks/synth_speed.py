"""How fast does `videopoet data synth` make Shapes World clips?

Times, in one run: rendering alone (one process), rendering plus writing mp4 + AAC (one
process), and the full `synthesize` with every core; prints clips/s, the speed-up over one
process and the projected time for 10,000 clips.

    python benchmarks/synth_speed.py --clips 600
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from videopoet.io import write_video
from videopoet.world import render_clip
from videopoet.world.synth import synthesize


def _rate(clips: int, seconds: float) -> float:
    return clips / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    single = max(args.clips // 4, 20)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        for seed in range(single):
            render_clip("train", seed, size=args.size)
        rows.append(("render only, 1 process", single, time.perf_counter() - started))

        started = time.perf_counter()
        for seed in range(single):
            clip = render_clip("train", seed, size=args.size)
            write_video(os.path.join(folder, "c.mp4"), clip.video, clip.fps, audio=clip.audio, preset="veryfast")
        rows.append(("render + mp4, 1 process", single, time.perf_counter() - started))

        started = time.perf_counter()
        synthesize(os.path.join(folder, "data"), "train", args.clips, size=args.size, workers=args.workers, progress=False)
        rows.append((f"data synth, {args.workers} processes", args.clips, time.perf_counter() - started))

    baseline = _rate(rows[1][1], rows[1][2])
    print(f"{'stage':<28}{'clips':>7}{'clips/s':>10}{'vs 1 proc':>11}{'10k clips':>11}")
    for name, clips, seconds in rows:
        rate = _rate(clips, seconds)
        print(f"{name:<28}{clips:>7}{rate:>10.1f}{rate / baseline:>10.2f}x{10_000 / rate / 60:>9.1f} min")
    print(f"\n{args.size}x{args.size}, 17 frames + audio; {platform.machine()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
