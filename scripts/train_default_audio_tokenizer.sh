#!/usr/bin/env bash
# Trains the shipped audio tokenizer (SoundStream, preset shapes-16k), measures it and writes it
# into the package (videopoet/pretrained/shapes-64/audio_tokenizer). Run again with the same RUN
# folder and every stage resumes where it stopped. On 2 CPU cores (one thread): about 2 s a
# step; on a GPU add --device cuda (the default when one is visible). The shipped weights are
# this run's step-1,200 checkpoint (stopped there for time, 300 steps before the schedule's end);
# the README's figures are for them.
set -euo pipefail
RUN=${RUN:-runs/audio-tokenizer}
SPEECH=${SPEECH:-runs/speech-train}

# 2,000 spoken utterances (espeak-ng, about 200 minutes) for variety beside the world's tones
videopoet data speech --split train --n 2000 --out "$SPEECH"

# Shapes World audio (60% of the windows) and speech (40%), 0.5 s windows, batch 16
videopoet train audio --out "$RUN" --preset shapes-16k --steps 1500 --batch-size 16 --lr 1e-3 --warmup 100 \
    --seconds 0.5 --audio "$SPEECH" --file-share 0.4 --checkpoint-every 100 --workers 1 --seed 0

videopoet eval audio "$RUN/checkpoint" --clips 200 --utterances 50 --json "$RUN/eval.json"
videopoet export "$RUN/checkpoint" videopoet/pretrained/shapes-64/audio_tokenizer --float16
