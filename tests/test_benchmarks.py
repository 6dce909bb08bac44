"""Smoke runs of the benchmark scripts at their smallest settings: each finishes and prints its
table with the baseline beside. (benchmarks/tokenizer_speed.py needs its peer's own environment,
`make bench-env`, and is left out; superres_speed.py needs a super-resolution stage, none ships.)"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "evaluator_sanity.py": (["--clips", "2", "--workers", "1"], ["ground truth", "after mp4", "noise", "shuffled"]),
    "synth_speed.py": (["--clips", "4", "--workers", "1"], ["data synth, 1 processes"]),
    "decode_ab.py": (["--baseline", "HEAD", "--rounds", "1"], ["| this checkout |", "same tokens:"]),
    "generate_speed.py": (["--runs", "1", "--tokens", "8", "--rounds", "1"], ["LM step with KV cache", "x faster", "cold runs (s)"]),
    "training_precision.py": (["--repeats", "1", "--batch-size", "1"], ["video tokenizer shapes-64", "LM tiny"]),
    "superres_ceiling.py": (["--clips", "1", "--frames", "5"], ["ceiling - bicubic", "| shipped model's |"]),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_benchmark_runs_and_prints_its_table(script):
    arguments, expected = RUNS[script]
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for text in expected:
        assert text in run.stdout, (text, run.stdout[-2000:])


def test_training_precision_refuses_a_batch_size_below_one():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "training_precision.py"), "--batch-size", "0"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert run.returncode == 2
    assert "--batch-size 0: must be at least 1" in run.stderr
    assert "| model |" not in run.stdout
