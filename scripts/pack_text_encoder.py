"""Cut the default text encoder down to the wordpieces of the Shapes World captions a GPU run
will tokenize and evaluate on, so that it can travel to the GPU machine with the repository.

all-MiniLM-L6-v2 is 91 MB in float32; the lent GPU machine takes 64 MiB of uploads per call,
the repository included. The copy keeps the wordpieces those captions use (a few dozen of
30,522) and stores float16: about 22 MB, and on those captions the same embeddings up to
float16 rounding. It records that it was cut from all-MiniLM-L6-v2, so token shards and
language models made with it name the full encoder, which is what generation loads.

    python scripts/pack_text_encoder.py --out .gpu/text-encoder   # train 0..8191, test 0..255, compositional 0..199

The clips must cover the ones the GPU run tokenizes and evaluates (scripts/train_lm_gpu.sh: N,
VAL and EVAL); a prompt with a word the copy lacks is refused, not read as [UNK]. It checks the
copy against the full encoder on --check of the captions and fails (exit 1) if any embedding
drifts (cosine similarity below 0.9999).
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F
from tqdm import tqdm

from videopoet.tokenizers.bert import write_vocabulary_subset
from videopoet.tokenizers.text import DEFAULT_ENCODER, TextEncoder, default_encoder_path
from videopoet.world import sample_scene, training_caption

MIN_COSINE = 0.9999


def shapes_world_captions(split: str, count: int) -> list[str]:
    """The training captions of clips (split, 0..count-1), without rendering them."""
    return [training_caption(sample_scene(split, seed)) for seed in tqdm(range(count), desc=f"captions {split}", unit="clip")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--train", type=int, default=8192, help="train-split clips 0..N-1")
    parser.add_argument("--val", type=int, default=256, help="test-split clips 0..N-1 (validation)")
    parser.add_argument("--compositional", type=int, default=200, help="compositional-split clips 0..N-1 (`videopoet eval tasks`)")
    parser.add_argument("--text-length", type=int, default=32, help="text positions per caption, as `videopoet tokenize`")
    parser.add_argument("--check", type=int, default=512, help="captions compared against the full encoder")
    args = parser.parse_args()
    if args.train < 1 or args.val < 0 or args.compositional < 0 or args.check < 1:
        parser.error("--train and --check must be positive, --val and --compositional not negative")

    captions = [caption for split, count in (("train", args.train), ("test", args.val), ("compositional", args.compositional)) for caption in shapes_world_captions(split, count)]
    notes = {"train": args.train, "val": args.val, "compositional": args.compositional}
    out = write_vocabulary_subset(default_encoder_path(), DEFAULT_ENCODER, captions, args.out, notes=notes)

    full, cut = TextEncoder(max_tokens=args.text_length), TextEncoder(out, max_tokens=args.text_length)
    sample = captions[:: max(1, len(captions) // args.check)][: args.check]
    a, b = full(sample), cut(sample)
    if not torch.equal(a.mask, b.mask):
        print(f"{out}: the copy splits some caption into other wordpieces than the full encoder", file=sys.stderr)
        return 1
    cosine = F.cosine_similarity(a.embeddings[a.mask], b.embeddings[b.mask], dim=-1).min().item()
    largest = (a.embeddings - b.embeddings).abs().max().item()
    size = sum(path.stat().st_size for path in out.iterdir()) / 1e6
    print(f"{out}: {cut.model.config.vocab_size} wordpieces of {full.model.config.vocab_size}, {size:.1f} MB; recorded as {cut.name!r}")
    print(f"on {len(sample)} of the {len(captions)} captions: lowest cosine similarity {cosine:.6f}, largest difference {largest:.2e}")
    if cosine < MIN_COSINE:
        print(f"{out}: embeddings drift from the full encoder's (cosine {cosine:.6f} < {MIN_COSINE})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
