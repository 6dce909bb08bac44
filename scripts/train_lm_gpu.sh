#!/usr/bin/env bash
# Trains a 64x64 language model on the codes of the package's video tokenizer
# (videopoet/pretrained/video-tokenizer-64) in one call of a lent GPU machine: tokenize the
# Shapes World train split, train an LM preset (`tiny` unless PRESET says otherwise) on the whole
# task mixture with a cosine schedule fitted into BUDGET seconds (scripts/fit_to_budget.py),
# export it in float16 and, with EVAL > 0, score every task on EVAL compositional clips
# (`videopoet eval tasks`). It runs on a CPU too, only slowly (small N and BUDGET make it a smoke
# test).
#
# `tiny` is the default because it is the only preset with which `videopoet generate` of a 64x64
# clip stays inside its 15-second budget on a 2-core CPU (14.7 s on a 2-core AMD EPYC, where
# 192 wide x 4 deep took 20.1 s and `shapes-64` 22.3 s: benchmarks/generate_speed.py --runs 3,
# untrained weights of each size); PRESET=shapes-64 trades that for capacity.
#
# The text encoder (91 MB) does not fit the machine's 64 MiB upload beside the repository, so it
# travels cut down to the wordpieces of these clips' captions (22 MB, same embeddings to float16
# rounding; shards and the model still record all-MiniLM-L6-v2):
#
#   python scripts/pack_text_encoder.py --out .gpu/text-encoder      # here, once (N, VAL, EVAL below)
#   RUN=/tmp/lm EXPORT=$OUT BUDGET=300 EVAL=200 bash scripts/train_lm_gpu.sh   # there, carrying .gpu/text-encoder
#
# EXPORT gets the float16 model as a pipeline directory (lm/: 6 MB, or 12 MB for shapes-64; the
# package's video tokenizer, the default model's audio tokenizer), the training log and
# eval-tasks.json, each as soon as it exists, so a call cut short still returns what was done.
# Settings (environment): RUN (runs/lm-gpu), EXPORT ($RUN/export), TEXT (.gpu/text-encoder), N
# train clips (8192), VAL test clips for validation (256), EVAL compositional clips per task (0:
# no evaluation), EVAL_BATCH (clips generated together in the evaluation, 64: as many as the
# tokenizing pass encodes at once, and a quarter of the sequential decode steps of eval tasks'
# default 16), PRESET (tiny), BATCH
# (32), LR (1e-3), WARMUP (200), WORKERS (processes for rendering and for the data loader;
# default: the cores but two), BUDGET (seconds of training, 400), PROBE (steps timed before the
# schedule is fitted, 100).
set -euo pipefail
PYTHON=${PYTHON:-python3}
RUN=${RUN:-runs/lm-gpu}
EXPORT=${EXPORT:-$RUN/export}
EVAL=${EVAL:-0}
EVAL_BATCH=${EVAL_BATCH:-64}
TEXT=${TEXT:-.gpu/text-encoder}
N=${N:-8192}
VAL=${VAL:-256}
PRESET=${PRESET:-tiny}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
WARMUP=${WARMUP:-200}
CORES=$(nproc)
WORKERS=${WORKERS:-$((CORES > 3 ? CORES - 2 : 1))}
BUDGET=${BUDGET:-400}
PROBE=${PROBE:-100}

# Settings that would otherwise fail only after tokenizing and training are refused now.
[[ "$EVAL_BATCH" =~ ^[1-9][0-9]*$ ]] || { echo "EVAL_BATCH=$EVAL_BATCH: a positive number of clips" >&2; exit 2; }
"$PYTHON" - "$PRESET" <<'EOF'
import sys
from videopoet.lm import LMConfig
if sys.argv[1] not in LMConfig.PRESETS:
    sys.exit(f"PRESET={sys.argv[1]}: not an LM preset; presets: {', '.join(LMConfig.PRESETS)}")
EOF

# The cut-down encoder must cover every caption tokenized here (else words would read as [UNK]).
"$PYTHON" scripts/text_encoder_covers.py "$TEXT" --train "$N" --val "$VAL" --compositional "$EVAL"

TOKENIZE="$PYTHON -m videopoet tokenize --size 64 --video-tokenizer videopoet/pretrained/video-tokenizer-64 --text-encoder $TEXT --workers $WORKERS --batch-size 64"
$TOKENIZE --world train --n "$N" --out "$RUN/tokens-train"
$TOKENIZE --world test --n "$VAL" --shard-size 128 --out "$RUN/tokens-val"

"$PYTHON" scripts/fit_to_budget.py --seconds "$BUDGET" --probe-steps "$PROBE" \
    --run "$PYTHON -m videopoet train lm --shards $RUN/tokens-train --val-shards $RUN/tokens-val --val-examples 8 \
--validate-every 500 --out $RUN/lm --preset $PRESET --batch-size $BATCH --lr $LR --warmup $WARMUP \
--checkpoint-every 250 --workers $WORKERS" \
    || echo "fit_to_budget: the run did not finish its schedule; exporting its last checkpoint"
mkdir -p "$EXPORT"
cp -rT videopoet/pretrained/video-tokenizer-64 "$EXPORT/video_tokenizer"
cp -rT videopoet/pretrained/shapes-64/audio_tokenizer "$EXPORT/audio_tokenizer"
"$PYTHON" -m videopoet export "$RUN/lm/checkpoint" "$EXPORT/lm" --float16
cp "$RUN/lm/fit_to_budget.txt" "$RUN/lm/log.jsonl" "$EXPORT/"
echo "exported: the pipeline directory $EXPORT"
if [ "$EVAL" -gt 0 ]; then
    "$PYTHON" -m videopoet eval tasks "$EXPORT" --clips "$EVAL" --batch-size "$EVAL_BATCH" --text-encoder "$TEXT" \
        --json "$EXPORT/eval-tasks.json"
fi
