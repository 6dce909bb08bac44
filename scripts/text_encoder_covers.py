"""Refuse a GPU run whose cut-down text encoder (scripts/pack_text_encoder.py) was cut for fewer
Shapes World captions than the run tokenizes or evaluates: a word the copy lacks would stop the
run after its first minutes instead of now. Exit 0 when FOLDER covers them (or is an uncut
encoder folder), 1 with the reason otherwise.

    python scripts/text_encoder_covers.py .gpu/text-encoder --train 8192 --val 256 --compositional 200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from videopoet.tokenizers.bert import SUBSET_FILE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="text encoder folder")
    parser.add_argument("--train", type=int, default=0, help="train-split clips 0..N-1 the run tokenizes")
    parser.add_argument("--val", type=int, default=0, help="test-split clips 0..N-1 it tokenizes")
    parser.add_argument("--compositional", type=int, default=0, help="compositional-split clips 0..N-1 it evaluates")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"{args.folder}: no such folder (make it with scripts/pack_text_encoder.py)", file=sys.stderr)
        return 1
    record = args.folder / SUBSET_FILE
    if not record.is_file():
        return 0
    packed = json.loads(record.read_text())
    needed = {"train": args.train, "val": args.val, "compositional": args.compositional}
    if any(packed.get(split, 0) < count for split, count in needed.items()):
        print(
            f"{args.folder}: cut for {packed.get('train', 0)} train, {packed.get('val', 0)} test and {packed.get('compositional', 0)} "
            f"compositional captions; this run uses "
            f"{args.train}, {args.val} and {args.compositional} (run scripts/pack_text_encoder.py --train {args.train} "
            f"--val {args.val} --compositional {args.compositional})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
