#!/usr/bin/env bash
# Trains a 64x64 language model on the codes of the package's video tokenizer
# (videopoet/pretrained/video-tokenizer-64) in one call of a lent GPU machine: tokenize the
# Shapes World train split, train the `shapes-64` preset on the whole task mixture with a cosine
# schedule fitted into BUDGET seconds (scripts/fit_to_budget.py), export it in float16. It runs
# on a CPU too, only slowly (small N, BUDGET and PRESET=tiny make it a smoke test).
#
# The text encoder (91 MB) does not fit the machine's 64 MiB upload beside the repository, so it
# travels cut down to the wordpieces of these clips' captions (22 MB, same embeddings to float16
# rounding; shards and the model still record all-MiniLM-L6-v2):
#
#   python scripts/pack_text_encoder.py --out .gpu/text-encoder      # here, once (N, VAL below)
#   RUN=/tmp/lm BUDGET=400 bash scripts/train_lm_gpu.sh             # there, carrying .gpu/text-encoder
#
# then bring back $RUN/export (the float16 model, 12 MB, with its training log). About 8 minutes
# in all on one H100 is the plan: tokenizing with 14 worker processes, BUDGET, the export.
# Settings (environment): RUN (runs/lm-gpu), TEXT (.gpu/text-encoder), N train clips (8192), VAL
# test clips for validation (256), PRESET (shapes-64), BATCH (32), LR (1e-3), WARMUP (200),
# WORKERS (processes for rendering and for the data loader; default: the cores but two), BUDGET
# (seconds of training, 400), PROBE (steps timed before the schedule is fitted, 100).
set -euo pipefail
PYTHON=${PYTHON:-python3}
RUN=${RUN:-runs/lm-gpu}
TEXT=${TEXT:-.gpu/text-encoder}
N=${N:-8192}
VAL=${VAL:-256}
PRESET=${PRESET:-shapes-64}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
WARMUP=${WARMUP:-200}
CORES=$(nproc)
WORKERS=${WORKERS:-$((CORES > 3 ? CORES - 2 : 1))}
BUDGET=${BUDGET:-400}
PROBE=${PROBE:-100}

# The cut-down encoder must cover every caption tokenized here (else words would read as [UNK]).
"$PYTHON" - "$TEXT" "$N" "$VAL" <<'EOF'
import json, sys
from pathlib import Path
folder, n, val = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
record = folder / "vocabulary_subset.json"
if record.is_file():
    packed = json.loads(record.read_text())
    if packed.get("train", 0) < n or packed.get("val", 0) < val:
        sys.exit(f"{folder}: cut for {packed.get('train')} train and {packed.get('val')} test captions; this run tokenizes {n} and {val} (run scripts/pack_text_encoder.py --train {n} --val {val})")
elif not folder.is_dir():
    sys.exit(f"TEXT={folder}: no such folder (make it with scripts/pack_text_encoder.py)")
EOF

TOKENIZE="$PYTHON -m videopoet tokenize --size 64 --video-tokenizer videopoet/pretrained/video-tokenizer-64 --text-encoder $TEXT --workers $WORKERS --batch-size 64"
$TOKENIZE --world train --n "$N" --out "$RUN/tokens-train"
$TOKENIZE --world test --n "$VAL" --shard-size 128 --out "$RUN/tokens-val"

"$PYTHON" scripts/fit_to_budget.py --seconds "$BUDGET" --probe-steps "$PROBE" \
    --run "$PYTHON -m videopoet train lm --shards $RUN/tokens-train --val-shards $RUN/tokens-val --val-examples 8 \
--validate-every 500 --out $RUN/lm --preset $PRESET --batch-size $BATCH --lr $LR --warmup $WARMUP \
--checkpoint-every 250 --workers $WORKERS" \
    || echo "fit_to_budget: the run did not finish its schedule; exporting its last checkpoint"
"$PYTHON" -m videopoet export "$RUN/lm/checkpoint" "$RUN/export/lm" --float16
cp "$RUN/lm/fit_to_budget.txt" "$RUN/lm/log.jsonl" "$RUN/export/"
echo "exported: $RUN/export/lm"
