"""How long does `videopoet generate` take, cold start included, and what does the KV cache buy?

In one run:
1. `videopoet generate PROMPT -o clip.mp4` (text-to-video with its soundtrack, the mp4 written)
   as a fresh process, `--runs` times: median wall time, beside the 15-second budget;
2. the same LM pass timed per output token with the static KV cache (prefill once, one step a
   token), with it and the output layer over each position's legal tokens only (as generation
   runs), and without the cache (the whole sequence through the model for every token), over
   the first `--tokens` output tokens of text-to-video: the speed-ups are the cache's and the
   legal range's.

    python benchmarks/generate_speed.py --runs 5
    python benchmarks/generate_speed.py --model runs/my-pipeline --threads 1
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
from timing import text_to_video_batch

BUDGET_SECONDS = 15.0


def cold_runs(prompt: str, model: str | None, runs: int, threads: int | None) -> list[float]:
    times = []
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            command = [sys.executable, "-m", "videopoet", "generate", prompt, "-o", os.path.join(folder, "clip.mp4"), "--seed", str(run)]
            if model:
                command += ["--model", model]
            started = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
    return times


@torch.no_grad()
def per_token_times(prompt: str, model: str | None, tokens: int, rounds: int) -> tuple[float, float, float, int]:
    """Seconds per output token with the KV cache, with it and the legal range, and without the
    cache (greedy within each position's legal range, no guidance). The two cached passes
    alternate for `rounds` rounds and each gives its median: a shared 2-core machine drifts."""
    from videopoet.pipeline import VideoPoetPipeline

    pipe = VideoPoetPipeline.from_pretrained(model, progress=False)
    lm = pipe.lm
    layout, batch = text_to_video_batch(pipe, prompt)
    prefix, count = layout.prefix_length, min(tokens, len(layout) - layout.prefix_length - 1)
    sequence = batch.tokens.clone()

    def legal(position: int) -> tuple[int, int]:
        return int(layout.legal_low[position]), int(layout.legal_high[position])

    def cached_pass(ranged: bool) -> float:
        """Greedy over the first `count` outputs into `sequence`; a ranged pass must pick the same tokens."""
        started = time.perf_counter()
        lm.setup_cache(1, len(layout))
        logits = lm.prefill(sequence[:, :prefix], batch.key_valid[:, :prefix], batch.text, batch.has_text)
        low, high = legal(prefix)
        logits = logits[:, low:high]
        for position in range(prefix, prefix + count):
            chosen = low + logits.argmax(-1)
            if ranged and not torch.equal(chosen, sequence[:, position]):
                raise RuntimeError(f"position {position}: the legal-range step chose another token than the full one")
            sequence[:, position] = chosen
            low, high = legal(position + 1)
            logits = lm.decode_step(chosen, position, (low, high)) if ranged else lm.decode_step(chosen, position)[:, low:high]
        lm.clear_cache()
        return (time.perf_counter() - started) / count

    full, ranged = [], []
    for _ in range(rounds):
        full.append(cached_pass(ranged=False))
        ranged.append(cached_pass(ranged=True))

    started = time.perf_counter()
    for position in range(prefix, prefix + count):
        end = position + 1
        logits = lm(sequence[:, :end], batch.prefix_lengths, batch.key_valid[:, :end], batch.text, batch.has_text)[:, -1]
        low, high = legal(position)
        sequence[:, position] = low + logits[:, low:high].argmax(-1)
    uncached = (time.perf_counter() - started) / count
    return statistics.median(full), statistics.median(ranged), uncached, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", default="a large red circle moving left and a small blue square bouncing")
    parser.add_argument("--model", help="pipeline directory (default: the shipped model)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="output tokens timed with and without the cache")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the two cached passes")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the generate processes (default: torch's choice)")
    args = parser.parse_args()

    times = cold_runs(args.prompt, args.model, args.runs, args.threads)
    if args.threads:
        torch.set_num_threads(args.threads)
    cached, ranged, uncached, count = per_token_times(args.prompt, args.model, args.tokens, args.rounds)
    median = statistics.median(times)
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {args.threads or torch.get_num_threads()}")
    print("| measurement | time | vs baseline |")
    print("|---|---|---|")
    print(f"| `videopoet generate` cold, median of {args.runs} | {median:.2f} s | {median / BUDGET_SECONDS:.2f} of the {BUDGET_SECONDS:g} s budget |")
    print(f"| LM step with KV cache and the legal range (first {count} text-to-video tokens, median of {args.rounds}) | {ranged * 1e3:.2f} ms/token | {uncached / ranged:.1f}x faster |")
    print(f"| LM step with KV cache, every token's logit (median of {args.rounds}, alternating) | {cached * 1e3:.2f} ms/token | {uncached / cached:.1f}x faster |")
    print(f"| LM step without cache (whole sequence each token) | {uncached * 1e3:.2f} ms/token | 1.0x |")
    print("cold runs (s): " + ", ".join(f"{value:.2f}" for value in times))


if __name__ == "__main__":
    main()
