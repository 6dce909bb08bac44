"""Speed of our MAGVIT-v2 tokenizer against magvit2-pytorch (PyPI) at a matched configuration.

Both models: 17x128x128 -> 5x16x16 with 2^18 LFQ codes, channels 128 -> 256 -> 256 -> 512,
three space and two time downsamplings, two residual blocks per stage, no attention, no
perceptual loss and no GAN in the timed training step (reconstruction + quantizer losses,
backward, AdamW step). Times encode and decode (clips/s) and one training step, in one run.

magvit2-pytorch needs torchvision, which does not import beside our default torch build, so the
comparison runs in its own environment:

    make bench-env                                   # .venv-bench: torch 2.14.1 + torchvision + magvit2-pytorch
    .venv-bench/bin/python benchmarks/tokenizer_speed.py --device cpu
"""

from __future__ import annotations

import argparse
import os
import platform

import torch

from timing import median_seconds
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig


def _theirs(image_size: int):
    from magvit2_pytorch import VideoTokenizer as TheirTokenizer

    stage = ("residual", "residual")
    layers = (
        *stage, "compress_space", *stage, "compress_space", *stage, "compress_space", "compress_time", "compress_time", *stage,
    )
    return TheirTokenizer(
        image_size=image_size,
        init_dim=128,
        max_dim=512,
        codebook_size=2**18,
        layers=layers,
        perceptual_loss_weight=0.0,
        use_gan=False,
    )


def _measure_ours(video: torch.Tensor, repeats: int, device: torch.device) -> dict[str, float]:
    model = VideoTokenizer(VideoTokenizerConfig.preset("videopoet-128")).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.eval()
    codes = model.encode(video)
    encode = median_seconds(lambda: model.encode(video), repeats, device)
    decode = median_seconds(lambda: model.decode(codes), repeats, device)
    model.train()

    def step():
        output = model(video)
        loss = (output.reconstruction - video).abs().mean() + output.entropy_loss + output.commitment_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return {"params": sum(p.numel() for p in model.parameters()), "encode": encode, "decode": decode, "train": median_seconds(step, repeats, device)}


def _measure_theirs(video: torch.Tensor, repeats: int, device: torch.device) -> dict[str, float]:
    model = _theirs(video.shape[-1]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.eval()
    with torch.no_grad():
        codes = model.tokenize(video)
        encode = median_seconds(lambda: model.tokenize(video), repeats, device)
        decode = median_seconds(lambda: model.decode_from_code_indices(codes), repeats, device)
    model.train()

    def step():
        loss = model(video, return_loss=True)
        loss = loss[0] if isinstance(loss, tuple) else loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    parameters = sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("vgg", "discr", "multiscale")))
    return {"params": parameters, "encode": encode, "decode": decode, "train": median_seconds(step, repeats, device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    video = (torch.rand(args.batch, 3, args.frames, args.size, args.size, device=device) * 2 - 1)
    rows = {"videopoet": _measure_ours(video, args.repeats, device), "magvit2-pytorch": _measure_theirs(video, args.repeats, device)}
    print(f"{'model':<18}{'params':>10}{'encode clips/s':>16}{'decode clips/s':>16}{'train s/step':>14}")
    for name, row in rows.items():
        print(
            f"{name:<18}{row['params'] / 1e6:>9.1f}M{args.batch / row['encode']:>16.3f}{args.batch / row['decode']:>16.3f}{row['train']:>14.2f}"
        )
    ours, theirs = rows["videopoet"], rows["magvit2-pytorch"]
    print(
        f"{'speed-up':<18}{'':>10}{theirs['encode'] / ours['encode']:>15.2f}x{theirs['decode'] / ours['decode']:>15.2f}x"
        f"{theirs['train'] / ours['train']:>13.2f}x"
    )
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU, {os.cpu_count()} cores"
    print(f"\nbatch {args.batch}, {args.frames}x{args.size}x{args.size}, median of {args.repeats}; {where}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
