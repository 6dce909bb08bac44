"""Does the Shapes World evaluator measure what it should?

For each test split, scores the same clips four ways, in one run:
  ground truth      the rendered pixels and samples
  after mp4         the same clips written as H.264 + AAC at 64x64 and read back
  noise             uniform random pixels and samples, against the clips' captions
  shuffled          the true clips against another clip's caption
Ground truth should score >= 0.99 on every attribute (also after mp4); noise and shuffled
captions near chance.

    python benchmarks/evaluator_sanity.py --clips 200 --json runs/evaluator_sanity.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time

import numpy as np
from tqdm import tqdm

from videopoet.io import read_video, write_video
from videopoet.world import parse, render_clip
from videopoet.world.evaluator import EvalReport, format_table, observe, score_clip

CONDITIONS = ("ground truth", "after mp4", "noise", "shuffled")


def _score_seed(job: tuple[str, int, int, int]) -> dict[str, dict]:
    split, seed, clips, size = job
    clip = render_clip(split, seed, size=size)
    expected = parse(clip.caption)
    other = parse(render_clip(split, (seed + 1) % clips, size=size).caption)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        media = read_video(write_video(os.path.join(folder, "clip.mp4"), clip.video, clip.fps, audio=clip.audio))
    truth = observe(clip.video, clip.audio)
    return {
        "ground truth": score_clip(truth, expected),
        "after mp4": score_clip(observe(media.video, media.audio.numpy()), expected),
        "noise": score_clip(
            observe(rng.integers(0, 256, clip.video.shape, dtype=np.uint8), rng.uniform(-1, 1, clip.audio.shape)), expected
        ),
        "shuffled": score_clip(truth, other),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200, help="clips per split")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args()
    results = {}
    started = time.perf_counter()
    for split in ("test", "compositional"):
        reports = {condition: EvalReport() for condition in CONDITIONS}
        jobs = [(split, seed, args.clips, args.size) for seed in range(args.clips)]
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            for scores in tqdm(pool.imap(_score_seed, jobs, chunksize=4), total=len(jobs), desc=split, unit="clip"):
                for condition in CONDITIONS:
                    reports[condition].add(scores[condition])
        print(f"\n{split} split, {args.clips} clips at {args.size}x{args.size}")
        print(format_table(reports))
        results[split] = {condition: report.accuracy() for condition, report in reports.items()}
    seconds = time.perf_counter() - started
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n{seconds:.0f} s on {machine}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"clips": args.clips, "size": args.size, "machine": machine, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
