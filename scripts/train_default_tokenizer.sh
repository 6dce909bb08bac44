#!/usr/bin/env bash
# Trains the shipped Shapes World video tokenizer, measures it and writes it into the package
# (videopoet/pretrained/shapes-64/video_tokenizer). Every stage resumes where it stopped when the
# script is run again with the same RUN folder. On 2 CPU cores: about 65 + 45 + 50 + 12 + 47 + 40 + 20
# + 20 minutes of training; on a GPU add --device cuda (the default when one is visible) and it takes minutes.
#
# The shipped weights came from these stages with two differences, both from schedules changed
# on resume: stage 1 ran 3,500 steps of a cosine schedule whose length was 5,500 to step 250,
# 4,200 to step 2,250, then 6,500 (stopped at 3,500); stage 2 ran its first 1,000 steps on
# 5-frame clips with a 2,500-step schedule, then 9-frame clips with a 2,000-step schedule; stage
# 3 ran 900 steps of a 3,000-step cosine schedule (stopped there for time; the script runs a
# 900-step schedule); stage 5 started from the float16 export of stage 4 (the previously shipped
# weights), not its float32 checkpoint. The figures in the README are for those weights.
set -euo pipefail
RUN=${RUN:-runs/video-tokenizer}
DATA="--crop 32 --crop-candidates 4 --real-share 0.2 --workers 1"

# Stage 1: encoder, quantizer and decoder together (reconstruction + LFQ losses).
videopoet train tokenizer --out "$RUN/joint" --preset shapes-64 --steps 3500 --batch-size 8 \
    --frames 5 --lr 1.5e-3 --warmup 200 --adversarial-start 1000000 --checkpoint-every 250 --seed 0 $DATA

# Stage 2: the codes frozen, the decoder alone learns to reconstruct them (colours and edges
# sharpen quickly here: on 24 compositional clips, colour accuracy 0.53 -> 0.75 in 300 steps).
# 9-frame clips, so that it also sees latent frames whose past is video, as in 17-frame clips.
videopoet train tokenizer --out "$RUN/decoder" --init "$RUN/joint/checkpoint" --decoder-only \
    --frames 9 --steps 2000 --batch-size 8 --lr 1e-3 --warmup 50 --adversarial-start 1000000 --checkpoint-every 100 --seed 1 $DATA

# Stage 3: everything together again, on 17-frame clips (the encoder had only seen 5-frame
# ones: later latent frames lost colour), at a lower learning rate; batch 4 for memory and time.
videopoet train tokenizer --out "$RUN/joint17" --init "$RUN/decoder/checkpoint" \
    --frames 17 --steps 900 --batch-size 4 --lr 3e-4 --warmup 50 --adversarial-start 1000000 --checkpoint-every 100 --seed 3 $DATA

# Stage 4: the decoder alone again, for the new codes, on 17-frame clips.
videopoet train tokenizer --out "$RUN/decoder17" --init "$RUN/joint17/checkpoint" --decoder-only \
    --frames 17 --steps 400 --batch-size 4 --lr 5e-4 --warmup 20 --adversarial-start 1000000 --checkpoint-every 50 --seed 4 $DATA

# Stage 5: the decoder alone for much longer (two cosine rounds, the second also on whole 32x32
# clips, the size the shipped LM generates at), in bf16 autocast: 1.8x faster per step on CPUs
# with AVX-512 BF16 or AMX (benchmarks/training_precision.py; use fp32 on others). The codes stay
# those of stage 3, so token shards and language models made with the stage-4 tokenizer stay valid.
videopoet train tokenizer --out "$RUN/decoder17-long" --init "$RUN/decoder17/checkpoint" --decoder-only \
    --frames 17 --steps 6000 --batch-size 8 --lr 5e-4 --warmup 100 --adversarial-start 1000000 --checkpoint-every 250 --seed 8 --precision bf16 $DATA
videopoet train tokenizer --out "$RUN/decoder17-long2" --init "$RUN/decoder17-long/checkpoint" --decoder-only \
    --frames 17 --steps 5000 --batch-size 8 --lr 3e-4 --warmup 100 --adversarial-start 1000000 --checkpoint-every 250 --seed 9 --precision bf16 \
    --size 64 32 $DATA

# Stage 6: the decoder alone against the 3D patch discriminator from its first step (hinge loss,
# weight 0.1), two cosine rounds of 2,000 steps at lr 1e-4 (each about 20 min; the second starts
# a fresh discriminator). Moving small squares and triangles, which a decoder trained on L1 + L2
# alone draws as round blobs, come out with corners: evaluator shape .890 -> .943 (test) and
# .821 -> .875 (compositional), where the same 2,000 steps without the discriminator give
# .905 / .825. Codes unchanged, as in stage 5.
videopoet train tokenizer --out "$RUN/adversarial" --init "$RUN/decoder17-long2/checkpoint" --decoder-only \
    --frames 17 --steps 2000 --batch-size 8 --lr 1e-4 --warmup 50 --adversarial-start 0 --adversarial-weight 0.1 \
    --checkpoint-every 250 --seed 11 --precision bf16 --size 64 32 $DATA
videopoet train tokenizer --out "$RUN/adversarial2" --init "$RUN/adversarial/checkpoint" --decoder-only \
    --frames 17 --steps 2000 --batch-size 8 --lr 1e-4 --warmup 50 --adversarial-start 0 --adversarial-weight 0.1 \
    --checkpoint-every 250 --seed 12 --precision bf16 --size 64 32 $DATA

videopoet eval tokenizer "$RUN/adversarial2/checkpoint" --clips 200 --json "$RUN/eval.json" --sheet docs/tokenizer_reconstruction.png
videopoet export "$RUN/adversarial2/checkpoint" videopoet/pretrained/shapes-64/video_tokenizer --float16
