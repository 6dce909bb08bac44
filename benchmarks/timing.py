"""The timer the benchmarks share: `python benchmarks/<name>.py` puts this folder on sys.path."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(function: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall time of `function()` over `repeats` runs after one warm-up run, waiting for
    the GPU to finish each run when `device` is a CUDA device."""
    function()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
