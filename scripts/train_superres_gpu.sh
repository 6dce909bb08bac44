#!/usr/bin/env bash
# Trains the 64 -> 128 px token super-resolution stage and its decoder in one call of a lent GPU
# machine, measures them against bicubic upsampling and exports them:
#   1. the same Shapes World train clips tokenized at 64 and 128 px by TOKENIZER (video codes and
#      captions), and VAL test clips for validation;
#   2. the stage (WIDTH x DEPTH, windows 5x8x8) with a cosine schedule fitted into BUDGET seconds
#      (scripts/fit_to_budget.py);
#   3. the stage's decoder (`videopoet train superres-decoder`), from TOKENIZER's decoder, trained
#      DECODER_STEPS steps on the frozen stage's soft predictions for the first PRED train clips
#      (what the pipeline's `upscale` decodes) and their 64 px codes, against the true 128 px
#      renders, so it learns to turn what the stage makes, doubts included, into the picture;
#   4. both exported in float16 into EXPORT (superres/, superres_decoder/: the parts a model
#      directory takes for `upscale=True`), with the logs, then `videopoet eval superres` on EVAL
#      compositional clips (eval-superres.json, whose "shortfalls" is empty when the stage beats
#      bicubic with every attribute within 0.02 of the decoded 64 px clip's).
# Each part is written to EXPORT as soon as it exists, so a call cut short still returns what was
# done. It runs on a CPU too, only slowly (small N, BUDGET and steps make it a smoke test).
#
# The stage predicts TOKENIZER's codes, so it serves a model directory with that video
# tokenizer (default: the shipped default model's). The text encoder travels cut down to these
# clips' captions (scripts/pack_text_encoder.py; its default covers the defaults below):
#
#   python scripts/pack_text_encoder.py --out .gpu/text-encoder      # here, once
#   RUN=/tmp/sr EXPORT=$OUT bash scripts/train_superres_gpu.sh     # there, carrying .gpu/text-encoder
#
# Settings (environment): RUN (runs/superres-gpu), EXPORT ($RUN/export), TEXT
# (.gpu/text-encoder), TOKENIZER (videopoet/pretrained/shapes-64/video_tokenizer), N train clips
# (4096), VAL test clips (64), PRED train clips the decoder learns from (1024), EVAL
# compositional clips measured (100; 0: none), WIDTH (160), DEPTH (8), HEADS (5), BATCH (16), LR
# (1e-3), WARMUP (200), BUDGET (seconds of stage training, 240), PROBE (steps timed before the
# schedule is fitted, 50), DECODER_STEPS (400),
# DECODER_BATCH (8), WORKERS (processes for rendering and data loading; default: the cores but two).
set -euo pipefail
PYTHON=${PYTHON:-python3}
RUN=${RUN:-runs/superres-gpu}
EXPORT=${EXPORT:-$RUN/export}
TEXT=${TEXT:-.gpu/text-encoder}
TOKENIZER=${TOKENIZER:-videopoet/pretrained/shapes-64/video_tokenizer}
N=${N:-4096}
VAL=${VAL:-64}
PRED=${PRED:-1024}
EVAL=${EVAL:-100}
WIDTH=${WIDTH:-160}
DEPTH=${DEPTH:-8}
HEADS=${HEADS:-5}
BATCH=${BATCH:-16}
LR=${LR:-1e-3}
WARMUP=${WARMUP:-200}
BUDGET=${BUDGET:-240}
PROBE=${PROBE:-50}
DECODER_STEPS=${DECODER_STEPS:-400}
DECODER_BATCH=${DECODER_BATCH:-8}
CORES=$(nproc)
WORKERS=${WORKERS:-$((CORES > 3 ? CORES - 2 : 1))}

# Settings that would otherwise fail only after tokenizing and training are refused now.
for setting in N VAL PRED WIDTH DEPTH HEADS BATCH BUDGET PROBE DECODER_STEPS DECODER_BATCH WORKERS; do
    [[ "${!setting}" =~ ^[1-9][0-9]*$ ]] || { echo "$setting=${!setting}: must be a positive whole number" >&2; exit 2; }
done
[[ "$EVAL" =~ ^[0-9]+$ ]] || { echo "EVAL=$EVAL: must be a whole number of clips (0: no evaluation)" >&2; exit 2; }
[ "$PROBE" -ge 20 ] || { echo "PROBE=$PROBE: fit_to_budget times at least 20 steps" >&2; exit 2; }
[ "$PRED" -le "$N" ] || { echo "PRED=$PRED: the decoder trains on the stage's predictions for train clips, of which there are N=$N" >&2; exit 2; }
[ -f "$TOKENIZER/config.json" ] || { echo "TOKENIZER=$TOKENIZER: not a video tokenizer folder (no config.json)" >&2; exit 2; }
"$PYTHON" scripts/text_encoder_covers.py "$TEXT" --train "$N" --val "$VAL" --compositional "$EVAL"

TOKENIZE="$PYTHON -m videopoet tokenize --fields video --video-tokenizer $TOKENIZER --text-encoder $TEXT --workers $WORKERS --batch-size 64"
for size in 64 128; do
    $TOKENIZE --world train --n "$N" --size "$size" --out "$RUN/train-$size"
    $TOKENIZE --world test --n "$VAL" --size "$size" --out "$RUN/val-$size"
done

if ! "$PYTHON" scripts/fit_to_budget.py --seconds "$BUDGET" --probe-steps "$PROBE" \
    --run "$PYTHON -m videopoet train superres --low-shards $RUN/train-64 --high-shards $RUN/train-128 \
--val-shards $RUN/val-64 $RUN/val-128 --val-examples 32 --validate-every 500 --out $RUN/superres \
--width $WIDTH --depth $DEPTH --heads $HEADS --batch-size $BATCH --lr $LR --warmup $WARMUP --checkpoint-every 250 \
--workers $WORKERS"; then
    [ -f "$RUN/superres/checkpoint/config.json" ] || { echo "the stage's training left no checkpoint in $RUN/superres" >&2; exit 1; }
    echo "fit_to_budget: the stage did not finish its schedule; going on from its last checkpoint"
fi
mkdir -p "$EXPORT"
"$PYTHON" -m videopoet export "$RUN/superres/checkpoint" "$EXPORT/superres" --float16
cp "$RUN/superres/fit_to_budget.txt" "$RUN/superres/log.jsonl" "$EXPORT/"

"$PYTHON" -m videopoet train superres-decoder --superres "$RUN/superres/checkpoint" --low-shards "$RUN/train-64" \
    --clips "$PRED" --video-tokenizer "$TOKENIZER" --out "$RUN/decoder" --crop 64 --crop-candidates 4 --steps "$DECODER_STEPS" \
    --batch-size "$DECODER_BATCH" --lr 3e-4 --warmup 20 --checkpoint-every 100 --workers "$WORKERS" --seed 12
"$PYTHON" -m videopoet export "$RUN/decoder/checkpoint" "$EXPORT/superres_decoder" --float16
cp "$RUN/decoder/log.jsonl" "$EXPORT/decoder-log.jsonl"
echo "exported: $EXPORT/superres and $EXPORT/superres_decoder"

if [ "$EVAL" -gt 0 ]; then
    "$PYTHON" -m videopoet eval superres "$RUN/superres/checkpoint" --video-tokenizer "$TOKENIZER" \
        --decoder "$RUN/decoder/checkpoint" --clips "$EVAL" --text-encoder "$TEXT" \
        --json "$EXPORT/eval-superres.json"
fi
