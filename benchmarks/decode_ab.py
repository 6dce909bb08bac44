"""Is a change to the LM's decode loop faster, and does it still sample the same tokens?

Times `sample()` as `videopoet generate` runs it (text-to-video at the model's size, guidance 4,
top-k 64, one seed) with this checkout's `videopoet/lm/model.py` and with that file as it was
at a git revision, in one process, alternating rounds (a shared 2-core machine drifts within
minutes), and prints each one's median ms per output token, the ratio, and whether the two
sampled the same tokens.

    python benchmarks/decode_ab.py --baseline 2f5ba7b
    python benchmarks/decode_ab.py --baseline HEAD~1 --model runs/my-pipeline --rounds 5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch
from timing import text_to_video_batch

REPOSITORY = Path(__file__).resolve().parents[1]
MODEL_FILE = "videopoet/lm/model.py"


def baseline_module(revision: str) -> ModuleType:
    """`videopoet/lm/model.py` at `revision`, imported as a sibling of the current one (so its
    relative imports resolve to this checkout's vocabulary, sequences and checkpoints)."""
    shown = subprocess.run(["git", "show", f"{revision}:{MODEL_FILE}"], cwd=REPOSITORY, capture_output=True, text=True)
    if shown.returncode:
        raise SystemExit(f"--baseline {revision!r}: git cannot show {MODEL_FILE} there: {shown.stderr.strip()}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.py")
        Path(path).write_text(shown.stdout)
        spec = importlib.util.spec_from_file_location("videopoet.lm._baseline_model", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision whose videopoet/lm/model.py is the baseline")
    parser.add_argument("--model", help="pipeline directory (default: the shipped model)")
    parser.add_argument("--prompt", default="a large red circle moving left and a small blue square bouncing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: need at least one round")

    from videopoet.lm import SamplingConfig, sample
    from videopoet.pipeline import VideoPoetPipeline

    baseline = baseline_module(args.baseline)
    pipe = VideoPoetPipeline.from_pretrained(args.model, progress=False)
    current = pipe.lm
    previous = baseline.VideoPoetLM(baseline.LMConfig.from_dict(current.config.to_dict()))
    previous.load_state_dict(current.state_dict())
    previous.eval()

    layout, batch = text_to_video_batch(pipe, args.prompt)
    config = SamplingConfig(temperature=1.0, top_k=64, guidance_scale=4.0, seed=args.seed)
    outputs = len(layout) - layout.prefix_length

    times: dict[str, list[float]] = {"baseline": [], "current": []}
    tokens: dict[str, torch.Tensor] = {}
    for _ in range(args.rounds):
        for name, model in (("baseline", previous), ("current", current)):
            started = time.perf_counter()
            tokens[name] = sample(model, batch, layout, config)
            times[name].append((time.perf_counter() - started) / outputs)
    before, after = statistics.median(times["baseline"]), statistics.median(times["current"])
    size = pipe.latent_shape
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"text-to-video, {outputs} output tokens (latent grid {tuple(size)}), guidance 4, top-k 64, seed {args.seed}; median of {args.rounds} alternating rounds")
    print("| model.py | ms per output token | speed-up |")
    print("|---|---|---|")
    print(f"| {args.baseline} | {before * 1e3:.2f} | 1.00x |")
    print(f"| this checkout | {after * 1e3:.2f} | {before / after:.2f}x |")
    same = torch.equal(tokens["baseline"], tokens["current"])
    print("same tokens: " + ("yes" if same else f"no ({int((tokens['baseline'] != tokens['current']).sum())} of {outputs} differ)"))


if __name__ == "__main__":
    main()
