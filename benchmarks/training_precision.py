"""How much faster is a training step in bf16 autocast (`train ... --precision bf16`) than in fp32?

In one run, on one device, for the shipped models' architectures at their training sizes:
1. the video tokenizer (`shapes-64`): 17-frame 32x32 crops, batch 8, reconstruction and LFQ
   losses — the step of `scripts/train_default_tokenizer.sh`;
2. the language model (`tiny` over the shipped vocabulary): 512-token sequences, batch 8, the
   loss (and the output head) only after a quarter-length prefix, as in training.
--batch-size changes both batches (a CPU without bf16 support takes minutes per bf16 step at 8).
Each step is forward, backward and an AdamW update, timed as the median of --repeats after a
warm-up (`timing.median_seconds`); the ratio is fp32 time over bf16 time (above 1: bf16 is
faster). On CPUs without AVX-512 BF16 or AMX, bf16 is usually slower: keep fp32 there.

    python benchmarks/training_precision.py --repeats 10
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

import torch

from timing import median_seconds
from videopoet.lm.model import LMConfig, VideoPoetLM
from videopoet.tokenizers import VideoTokenizer


def tokenizer_step(device: torch.device, dtype: torch.dtype | None, batch: int = 8) -> Callable[[], None]:
    """One training step of the shipped tokenizer's architecture on (batch, 3, 17, 32, 32) clips."""
    model = VideoTokenizer.from_pretrained().float().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    video = torch.rand(batch, 3, 17, 32, 32, device=device) * 2 - 1

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            output = model(video)
            loss = (output.reconstruction.float() - video).abs().mean() + output.entropy_loss + output.commitment_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def lm_step(device: torch.device, dtype: torch.dtype | None, length: int = 512, batch: int = 8) -> Callable[[], None]:
    """One training step of a `tiny` LM over the shipped vocabulary on random (batch, length) tokens."""
    shipped = VideoPoetLM.from_pretrained().config
    model = VideoPoetLM(LMConfig.preset("tiny", shipped.vocabulary, max_length=length)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, shipped.vocabulary.size, (batch, length), generator=generator).to(device)
    prefix = torch.full((batch,), length // 4, device=device)
    valid = torch.ones(batch, length, dtype=torch.bool, device=device)
    text = torch.randn(batch, shipped.text_length, shipped.text_dim, generator=generator).to(device)
    has_text = torch.ones(batch, dtype=torch.bool, device=device)
    outputs = (torch.arange(length - 1, device=device) >= prefix[:, None] - 1)  # (batch, length - 1): predicting a non-prefix token

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(tokens[:, :-1], prefix, valid[:, :-1], text, has_text, positions=outputs)  # (N, V)
            loss = torch.nn.functional.cross_entropy(logits.float(), tokens[:, 1:][outputs])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=8, help="clips / sequences per step (8: as in training)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be at least 1")
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size}: must be at least 1")
    device = torch.device(args.device)
    print(f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, device {device}")
    print("| model | fp32 step | bf16 step | fp32 / bf16 |")
    print("|---|---|---|---|")
    batch = args.batch_size
    for name, make in ((f"video tokenizer shapes-64, {batch} x 17x32x32", tokenizer_step), (f"LM tiny, {batch} x 512 tokens", lm_step)):
        torch.manual_seed(0)
        fp32 = median_seconds(make(device, None, batch=batch), args.repeats, device)
        torch.manual_seed(0)
        bf16 = median_seconds(make(device, torch.bfloat16, batch=batch), args.repeats, device)
        print(f"| {name} | {fp32 * 1000:.0f} ms | {bf16 * 1000:.0f} ms | {fp32 / bf16:.2f}x |")


if __name__ == "__main__":
    main()
