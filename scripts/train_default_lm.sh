#!/usr/bin/env bash
# Trains the shipped Shapes World language model, measures it and writes it into the package
# (videopoet/pretrained/shapes-64/lm). It needs the shipped video and audio tokenizers (see
# train_default_tokenizer.sh and train_default_audio_tokenizer.sh): the token shards are made
# with them. Every stage resumes where it stopped when the script is run again with the same
# RUN folder. On 2 CPU cores: about 13 minutes of tokenizing and 70 + 50 + 35 of training; on a GPU
# (--device cuda is the default when one is visible) it takes minutes.
#
# The interim default is the `tiny` preset at 32x32 (a quarter of the 64x64 sequence length),
# so that training fits these CPU machines; a 64x64 model needs a GPU.
set -euo pipefail
RUN=${RUN:-runs}

# Token shards: video, audio, optical flow, edges and caption embeddings of every clip.
videopoet tokenize --world train --n 8192 --size 32 --out "$RUN/tokens-train"
videopoet tokenize --world test --n 256 --size 32 --shard-size 128 --out "$RUN/tokens-val"

# The whole task mixture from scratch, one cosine schedule.
videopoet train lm --shards "$RUN/tokens-train" --val-shards "$RUN/tokens-val" --val-examples 8 \
    --validate-every 500 --out "$RUN/lm-tiny" --preset tiny --steps 8000 --batch-size 8 --lr 2e-3 \
    --warmup 200 --checkpoint-every 250

# A second cosine round from there (validation loss was still falling), in bf16 autocast: 1.4x
# faster per step on CPUs with AVX-512 BF16 or AMX (benchmarks/training_precision.py; use fp32
# on others).
videopoet train lm --init "$RUN/lm-tiny/checkpoint" --shards "$RUN/tokens-train" --val-shards "$RUN/tokens-val" \
    --val-examples 8 --validate-every 500 --out "$RUN/lm-tiny2" --steps 6500 --batch-size 8 --lr 1e-3 \
    --warmup 200 --checkpoint-every 250 --seed 9 --precision bf16

# A third round at half that peak (validation loss was still falling at the end of the second).
videopoet train lm --init "$RUN/lm-tiny2/checkpoint" --shards "$RUN/tokens-train" --val-shards "$RUN/tokens-val" \
    --val-examples 8 --validate-every 500 --out "$RUN/lm-tiny3" --steps 5000 --batch-size 8 --lr 5e-4 \
    --warmup 100 --checkpoint-every 250 --seed 10 --precision bf16

videopoet eval lm "$RUN/lm-tiny3/checkpoint" --val-shards "$RUN/tokens-val" \
    --train-shards "$RUN/tokens-train" --examples 64 --json "$RUN/eval-lm-tiny3.json"
videopoet export "$RUN/lm-tiny3/checkpoint" videopoet/pretrained/shapes-64/lm --float16
videopoet eval tasks --clips 200 --json "$RUN/eval-tasks.json"
