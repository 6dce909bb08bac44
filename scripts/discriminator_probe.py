"""Can the tokenizer's 3D discriminator tell a trained decoder's reconstructions from the real
clips when the decoder stands still? It trains a fresh `Discriminator3d` alone (hinge loss, the
training loop's AdamW settings) on 32x32 windows of Shapes World train clips against their
reconstructions, and prints its mean logit on held-out real and reconstructed windows as it
learns. In a decoder-only adversarial run the discriminator's loss sits at 2.0 (chance) from
start to end; if it separates the fixed reconstructions here, the decoder is fooling it in
training rather than it being unable to see the difference.

    python scripts/discriminator_probe.py                              # the shipped tokenizer
    python scripts/discriminator_probe.py runs/tok/checkpoint --steps 500 --channels 64
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from tqdm import tqdm

from videopoet.io.write import from_uint8_frames
from videopoet.tokenizers import VideoTokenizer
from videopoet.train.loop import TrainConfig
from videopoet.train.tokenizer import Discriminator3d, TokenizerLossConfig
from videopoet.world import render_clip


def windows(clips: int, crop: int) -> torch.Tensor:
    """(clips, 3, 17, crop, crop) central windows of Shapes World train clips, in [-1, 1]."""
    videos = torch.stack([from_uint8_frames(render_clip("train", seed).video) for seed in tqdm(range(clips), desc="render")])
    start = (videos.shape[-1] - crop) // 2
    return videos[..., start : start + crop, start : start + crop]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizer", nargs="?", help="tokenizer checkpoint or model directory (default: the package's, videopoet/pretrained/video-tokenizer-64)")
    parser.add_argument("--clips", type=int, default=32, help="clips; the last quarter is held out")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--channels", type=int, default=TokenizerLossConfig.discriminator_channels)
    parser.add_argument("--crop", type=int, default=32)
    args = parser.parse_args()
    if args.clips < 4:
        parser.error(f"--clips {args.clips}: need at least 4 (a quarter is held out)")

    torch.manual_seed(0)
    tokenizer = VideoTokenizer.from_pretrained(args.tokenizer).float()
    real = windows(args.clips, args.crop)
    with torch.no_grad():  # unclamped, as the discriminator sees them in training
        latents = [tokenizer.quantizer.codes_to_latent(tokenizer.encode(chunk)) for chunk in real.split(8)]
        fake = torch.cat([tokenizer.decoder(latent.float()) for latent in latents])
    psnr = 10 * torch.log10(4.0 / F.mse_loss(fake, real))
    train = args.clips - args.clips // 4
    print(f"reconstructions: {psnr:.2f} dB PSNR; training on {train} clips, {args.clips - train} held out")

    discriminator = Discriminator3d(args.channels)
    defaults = TrainConfig(steps=args.steps, batch_size=args.batch_size)
    optimizer = torch.optim.AdamW(discriminator.parameters(), lr=args.lr, betas=defaults.betas, weight_decay=defaults.weight_decay)
    print(f"{'step':>5} {'hinge loss':>11} {'held-out real logit':>20} {'held-out recon logit':>21}")
    for step in range(args.steps + 1):
        index = torch.randint(0, train, (args.batch_size,))
        loss = F.relu(1 - discriminator(real[index])).mean() + F.relu(1 + discriminator(fake[index])).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            with torch.no_grad():
                held_real, held_fake = discriminator(real[train:]).mean(), discriminator(fake[train:]).mean()
            print(f"{step:>5} {loss.item():>11.3f} {held_real.item():>20.3f} {held_fake.item():>21.3f}")


if __name__ == "__main__":
    main()
