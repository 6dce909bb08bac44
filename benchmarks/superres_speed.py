"""What does the super-resolution stage add to generation time?

In one run, on a model directory with a `superres/` stage (by default the shipped one):
1. cold: `videopoet generate PROMPT -o clip.mp4` and the same with `--upscale`, each as a fresh
   process `--runs` times; the stage adds the difference of the medians;
2. warm: in one process, the base generation (`pipe(prompt)`: text-to-video with its
   soundtrack) and `pipe.upscale(result)` of that result, `--runs` times each.
The goal: the stage adds no more than the base generation's own time (ratio <= 1).

    python benchmarks/superres_speed.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch


def cold_runs(prompt: str, model: str | None, runs: int, upscale: bool) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            command = [sys.executable, "-m", "videopoet", "generate", prompt, "-o", os.path.join(folder, "clip.mp4"), "--seed", str(run)]
            command += ["--model", model] if model else []
            command += ["--upscale"] if upscale else []
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
    return times


def warm_runs(prompt: str, model: str | None, runs: int) -> tuple[list[float], list[float], tuple[int, ...]]:
    """Seconds of `runs` base generations and of upscaling each result; the upscaled frames' shape."""
    from videopoet.pipeline import VideoPoetPipeline

    pipe = VideoPoetPipeline.from_pretrained(model, progress=False)
    if pipe.superres is None:
        raise SystemExit(f"{model or 'the shipped model'}: has no super-resolution stage")
    pipe.upscale(pipe(prompt, seed=0))  # warm-up: the text encoder, first-call allocations
    base, stage = [], []
    for run in range(runs):
        started = time.perf_counter()
        result = pipe(prompt, seed=run)
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        upscaled = pipe.upscale(result)
        stage.append(time.perf_counter() - started)
    return base, stage, upscaled.frames.shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", default="a large red circle moving left, the camera pans right")
    parser.add_argument("--model", help="model directory (default: the shipped one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    base_cold = statistics.median(cold_runs(args.prompt, args.model, args.runs, upscale=False))
    upscaled_cold = statistics.median(cold_runs(args.prompt, args.model, args.runs, upscale=True))
    base_warm, stage_warm, shape = warm_runs(args.prompt, args.model, args.runs)
    base_warm, stage_warm = statistics.median(base_warm), statistics.median(stage_warm)
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.runs}; upscaled frames {shape}")
    print("| measure | base generation (s) | with the stage (s) | stage adds (s) | stage / base |")
    print("|---|---|---|---|---|")
    print(f"| cold `videopoet generate` vs `--upscale` | {base_cold:.2f} | {upscaled_cold:.2f} | {upscaled_cold - base_cold:.2f} | {(upscaled_cold - base_cold) / base_cold:.2f} |")
    print(f"| warm `pipe(prompt)` vs `pipe.upscale(result)` | {base_warm:.2f} | {base_warm + stage_warm:.2f} | {stage_warm:.2f} | {stage_warm / base_warm:.2f} |")


if __name__ == "__main__":
    main()
