#!/usr/bin/env bash
# Trains the shipped Shapes World video tokenizer (videopoet/pretrained/shapes-64/video_tokenizer)
# and measures it. CPU: about 2 hours on 2 cores; a GPU takes minutes (add --device cuda and
# a larger --batch-size). Resumes where it stopped if run again with the same RUN folder.
set -euo pipefail
RUN=${RUN:-runs/video-tokenizer}
videopoet train tokenizer --out "$RUN" --preset shapes-64 \
    --steps 6500 --batch-size 8 --lr 1.5e-3 --warmup 200 \
    --frames 5 --crop 32 --crop-candidates 4 --real-share 0.2 --adversarial-start 1000000 \
    --checkpoint-every 250 --workers 1 --seed 0
videopoet eval tokenizer "$RUN/checkpoint" --clips 200 --json "$RUN/eval.json"
