"""What the benchmarks share (the timer, the text-to-video LM pass): `python benchmarks/<name>.py`
puts this folder on sys.path."""

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


def text_to_video_batch(pipe, prompt: str):
    """The LM input `videopoet generate PROMPT` samples from with `pipe` (a VideoPoetPipeline):
    (layout, batch), one row, text-to-video at the pipeline's size, outputs still to fill."""
    from videopoet.lm import TaskExample, build_sequence, collate

    vocab = pipe.lm.config.vocabulary
    example = TaskExample("text_to_video", True, output_video=torch.zeros(pipe.latent_shape, dtype=torch.long))
    layout = build_sequence(vocab, example, pipe.lm.config.text_length)
    text = pipe.text_encoder([prompt])
    return layout, collate(vocab, [layout], text.embeddings, text.mask)
