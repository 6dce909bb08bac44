"""Training token super-resolution: shard pairs, their checks, the command, resume, validation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videopoet.cli import main
from videopoet.data.shards import TokenizedClip, TokenShards, write_token_shards
from videopoet.superres import SuperResConfig, SuperResTransformer
from videopoet.superres.measure import shortfalls
from videopoet.tokenizers.bert import write_vocabulary_subset
from videopoet.tokenizers.text import default_encoder_path
from videopoet.train import TrainConfig, Trainer
from videopoet.train.superres import SuperResPairs, SuperResTask, SuperResValidation, config_for

SETTINGS = {"source": {"kind": "test"}, "frames": 9, "text_encoder": "test", "video_codes": 64, "video_tokenizer": {"name": "test"},
            "audio_codes": 8, "audio_levels": 2, "text_length": 4, "text_dim": 6}  # fmt: skip


def fake_pair(index: int, size: int) -> TokenizedClip:
    """Clip `index` at `size` px (8: a 3x2x2 grid, 16: 3x4x4): the high grid is a function of
    the low one (each low code spread over its 2x2 block with the block position added)."""
    rng = np.random.default_rng(index)
    low = rng.integers(0, 16, (3, 2, 2))
    if size == 16:
        codes = np.repeat(np.repeat(low, 2, axis=1), 2, axis=2) * 4 + np.tile(np.array([[0, 1], [2, 3]]), (3, 2, 2))
    else:
        codes = low
    return TokenizedClip(
        video=codes,
        audio=np.zeros((2, 5), dtype=np.int64),
        flow=np.zeros_like(codes),
        structure=np.zeros_like(codes),
        text=rng.standard_normal((4, 6)).astype(np.float32),
        text_mask=np.arange(4) < 2,
        caption=f"clip {index}",
        source={"index": index},
    )


def make_pair(folder: Path, count: int = 24, **changes) -> tuple[Path, Path]:
    paths = []
    for size in (8, 16):
        settings = {**SETTINGS, "size": size, **(changes if size == 16 else {})}
        paths.append(write_token_shards(folder / f"tokens-{size}", count, lambda indices, s=size: [fake_pair(i, s) for i in indices], settings, shard_size=10, progress=False))
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    return make_pair(tmp_path_factory.mktemp("superres"))


def test_pairs_give_reproducible_examples_of_matching_grids(pair):
    pairs = SuperResPairs(TokenShards(pair[0]), TokenShards(pair[1]), seed=3)
    assert pairs.scale == 2 and pairs.grid() == (3, 4, 4) and pairs.clips == 24
    first, again = pairs[5], pairs[5]
    assert first.high.shape == (3, 4, 4) and first.low.shape == (3, 2, 2) and first.text.shape == (4, 6)
    assert torch.equal(first.masked, again.masked) and torch.equal(first.low, again.low)
    config = config_for(pairs, width=16, depth=3, heads=2, window=(3, 2, 2))
    assert (config.codebook_bits, config.factors, config.scale, config.max_height) == (6, 2, 2, 4)


def test_pairs_of_other_clips_or_sizes_are_refused(tmp_path, pair):
    other = make_pair(tmp_path / "other", source={"kind": "elsewhere"})
    with pytest.raises(ValueError, match="source differs"):
        SuperResPairs(TokenShards(pair[0]), TokenShards(other[1]))
    with pytest.raises(ValueError, match="must be a multiple"):
        SuperResPairs(TokenShards(pair[1]), TokenShards(pair[0]))


def tiny_task(pair, seed: int = 0) -> SuperResTask:
    torch.manual_seed(seed)
    pairs = SuperResPairs(TokenShards(pair[0]), TokenShards(pair[1]), low_noise=0.0)
    model = SuperResTransformer(config_for(pairs, width=32, depth=3, heads=2, window=(3, 2, 2)))
    return SuperResTask(model, pairs, SuperResValidation(pairs, examples=8))


def test_training_learns_the_high_grid_beyond_the_low_code_baseline(pair, tmp_path):
    task = tiny_task(pair)
    before = task.validation.loss(task.model)
    trainer = Trainer(task, TrainConfig(steps=120, batch_size=8, learning_rate=3e-3, warmup_steps=5, checkpoint_every=1000), tmp_path / "run")
    trainer.run(progress=False)
    after = task.validation.loss(task.model)
    baseline = task.validation.low_code_baseline(task.data, task.model.config)
    # the high code is a function of the low code and the position in its 2x2 block: the
    # baseline knows the low code but not the position; the model can learn both
    assert after < 0.5 * before and after < baseline


def test_a_resumed_run_ends_with_the_same_weights(pair, tmp_path):
    config = dict(batch_size=4, learning_rate=3e-3, warmup_steps=2, checkpoint_every=3)
    straight = tiny_task(pair)
    Trainer(straight, TrainConfig(steps=6, **config), tmp_path / "straight").run(progress=False)
    interrupted = tiny_task(pair)
    Trainer(interrupted, TrainConfig(steps=6, **config), tmp_path / "resumed").run(progress=False, until=3)
    resumed = tiny_task(pair, seed=1)  # other initial weights: the checkpoint must replace them
    trainer = Trainer(resumed, TrainConfig(steps=6, **config), tmp_path / "resumed")
    assert trainer.resume() and trainer.step == 3
    trainer.run(progress=False)
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)


def test_the_train_superres_command_writes_a_loadable_model(pair, tmp_path, capsys):
    out = tmp_path / "run"
    arguments = ["train", "superres", "--low-shards", str(pair[0]), "--high-shards", str(pair[1]), "--val-shards", str(pair[0]), str(pair[1]),
                 "--out", str(out), "--steps", "4", "--batch-size", "4", "--warmup", "1", "--validate-every", "2", "--val-examples", "4",
                 "--width", "16", "--depth", "3", "--heads", "2", "--window", "3", "2", "2"]  # fmt: skip
    assert main([*arguments, "--until", "0"]) == 2 and "--until 0: must be a positive step" in capsys.readouterr().err and not out.exists()
    assert main([*arguments, "--until", "2"]) == 0  # stops after step 2, checkpointed
    assert "trained to step 2" in capsys.readouterr().out
    assert main(arguments) == 0  # the same command without --until finishes the schedule
    printed = capsys.readouterr().out
    assert "validation baseline" in printed and "trained to step 4" in printed
    model = SuperResTransformer.from_pretrained(out / "checkpoint")
    assert model.config.scale == 2 and model.config.width == 16
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("val_loss" in entry for entry in log)
    other = SuperResTransformer(SuperResConfig(codebook_bits=8, width=16, depth=3, heads=2, window=(3, 2, 2), text_dim=6, max_frames=3, max_height=4, max_width=4))
    other.save_pretrained(tmp_path / "other")
    refused = tmp_path / "refused"
    assert main(["train", "superres", "--low-shards", str(pair[0]), "--high-shards", str(pair[1]), "--out", str(refused), "--init", str(tmp_path / "other")]) == 2
    assert "takes 256 video codes, the shards have 64" in capsys.readouterr().err and not refused.exists()


def test_bicubic_upsampling_keeps_flat_videos_and_makes_the_size():
    from videopoet.io.write import bicubic_resize

    flat = torch.full((2, 3, 5, 8, 8), 0.25)
    upsampled = bicubic_resize(flat, 16)
    assert upsampled.shape == (2, 3, 5, 16, 16)
    torch.testing.assert_close(upsampled, torch.full_like(upsampled, 0.25))


def test_eval_superres_scores_every_variant(tmp_path, capsys):
    """A tiny untrained stage and tokenizer on 32 -> 64 px Shapes World clips: every figure is
    there, the ceiling and baseline are measured on the same clips, and an untrained decoder
    (bicubic upsampling of the low grid's decode) scores as bicubic does."""
    from videopoet.superres import SuperResDecoder
    from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig

    torch.manual_seed(0)
    tokenizer = VideoTokenizer(VideoTokenizerConfig(base_channels=8, channel_multipliers=(1, 2, 2), time_downsamples=2, bits=6, image_size=32))
    tokenizer.save_pretrained(tmp_path / "video")
    SuperResDecoder.from_tokenizer(tokenizer, scale=2).save_pretrained(tmp_path / "decoder")
    clip = {"size": 32, "frames": 9, "text_encoder": "all-MiniLM-L6-v2", "text_length": 32}
    config = SuperResConfig(codebook_bits=6, width=16, depth=3, heads=2, window=(3, 4, 4), max_frames=3, max_height=16, max_width=16, clip=clip)
    SuperResTransformer(config).save_pretrained(tmp_path / "superres")
    arguments = ["eval", "superres", str(tmp_path / "superres"), "--video-tokenizer", str(tmp_path / "video"), "--clips", "2", "--json", str(tmp_path / "sr.json")]
    assert main(arguments) == 2 and "no decoder for the stage" in capsys.readouterr().err
    arguments += ["--decoder", str(tmp_path / "decoder")]
    assert main(arguments) == 0
    figures = json.loads((tmp_path / "sr.json").read_text())
    for variant in ("superres", "bicubic", "tokenizer_high", "without_stage"):
        assert 0 < figures[variant]["psnr"] < 100 and "all_right" in figures[variant]["evaluator"]
    assert figures["low"]["psnr"] is None and "colour" in figures["low"]["evaluator"]
    assert figures["shortfalls"] == shortfalls(figures)
    assert figures["superres"]["psnr"] == pytest.approx(figures["bicubic"]["psnr"], abs=0.05)
    assert figures["tokenizer_high"]["psnr"] == figures["superres"]["psnr"] == figures["without_stage"]["psnr"]  # whatever the high latent
    assert "bicubic 64" in capsys.readouterr().out
    other = write_vocabulary_subset(default_encoder_path(), "another-encoder", ["a red ball"], tmp_path / "other")
    assert main([*arguments, "--text-encoder", str(other)]) == 2
    assert "it is 'another-encoder', the stage was trained with 'all-MiniLM-L6-v2'" in capsys.readouterr().err


def test_the_shipping_bar_wants_psnr_above_bicubic_and_every_attribute_near_the_low_clip():
    def figures(superres_psnr: float, shape: float) -> dict:
        low = {"colour": 1.0, "shape": 0.90}
        return {"low": {"psnr": None, "evaluator": low}, "bicubic": {"psnr": 28.9, "evaluator": low}, "superres": {"psnr": superres_psnr, "evaluator": {"colour": 1.0, "shape": shape}}}

    assert shortfalls(figures(29.0, 0.885)) == []  # within 0.02 below
    assert shortfalls(figures(29.0, 0.95)) == []  # above is fine
    assert shortfalls(figures(28.9, 0.90)) == ["PSNR 28.90 dB does not beat bicubic's 28.90 dB"]
    (missing,) = shortfalls(figures(29.0, 0.87))
    assert missing.startswith("shape 0.870 is more than 0.02 below")


def tiny_stage_predictions(folder: Path, clips: int) -> tuple[Path, Path]:
    """Shards of `clips` Shapes World train clips at 32 px (the shipped tokenizer's codes), a tiny
    untrained 32 -> 64 px stage in folder/stage, and its `upscale-tokens` predictions for them:
    (low shard folder, predicted shard folder)."""
    low = folder / "low"
    assert main(["tokenize", "--world", "train", "--n", str(clips), "--size", "32", "--fields", "video", "--out", str(low), "--device", "cpu"]) == 0
    clip = {"size": 32, "frames": 17, "text_encoder": "all-MiniLM-L6-v2", "text_length": 32}
    torch.manual_seed(0)
    stage = SuperResTransformer(SuperResConfig(width=16, depth=3, heads=2, window=(5, 4, 4), max_height=16, max_width=16, clip=clip))
    stage.save_pretrained(folder / "stage")
    predicted = folder / "predicted"
    assert main(["upscale-tokens", str(folder / "stage"), "--low-shards", str(low), "--out", str(predicted), "--batch-size", "2", "--device", "cpu"]) == 0
    return low, predicted


def test_upscale_tokens_writes_the_stage_codes_for_real_shards(tmp_path):
    """`upscale-tokens` writes a stage's MaskGIT codes for real shards (resumably, with each
    clip's caption and source)."""
    low, predicted = tiny_stage_predictions(tmp_path, clips=3)
    command = ["upscale-tokens", str(tmp_path / "stage"), "--low-shards", str(low), "--out", str(predicted), "--batch-size", "2", "--device", "cpu"]
    assert main(command) == 0  # the folder is finished: nothing to redo
    shards = TokenShards(predicted)
    assert len(shards) == 3 and shards.settings["size"] == 64 and shards.fields == ("video",)
    assert shards.field(2, "video").shape == (5, 16, 16) and shards.captions == TokenShards(low).captions
    assert shards.sources[2] == {"split": "train", "seed": 2}


def test_decoder_clips_pair_the_stage_input_with_the_high_render_in_aligned_windows(tmp_path):
    from videopoet.train.superres import DecoderClips
    from videopoet.world import render_clip

    low, _ = tiny_stage_predictions(tmp_path, clips=3)
    shards = TokenShards(low)
    whole = DecoderClips(shards, scale=2, spatial_factor=4)[0]
    assert whole.video.shape == (3, 17, 64, 64) and whole.corner.tolist() == [0, 0]
    clip = int(whole.clip)
    assert torch.equal(whole.low, shards.field(clip, "video")) and torch.equal(whole.text, shards.field(clip, "text"))
    assert torch.equal(whole.video, torch.from_numpy(render_clip("train", clip, 64).video).permute(3, 0, 1, 2).float() / 127.5 - 1)
    windows = DecoderClips(shards, scale=2, spatial_factor=4, crop=32, candidates=3, clips=2)
    corners = [windows[index].corner for index in range(8)]
    assert all(int(corner.max()) <= 8 and not (corner % 2).any() for corner in corners)  # on the low grid, inside the frame
    assert {int(windows[index].clip) for index in range(8)} <= {0, 1}
    with pytest.raises(ValueError, match="multiple of 8 pixels"):
        DecoderClips(shards, scale=2, spatial_factor=4, crop=36)
    with pytest.raises(ValueError, match="holds 3 clips"):
        DecoderClips(shards, scale=2, spatial_factor=4, clips=4)


def test_the_stage_decoder_trains_resumes_and_is_measured(tmp_path, capsys):
    """`train superres-decoder` trains the two-grid decoder on a frozen stage's soft predictions
    (from the shipped tokenizer's decoder), resumes, exports a loadable decoder that `eval
    superres --decoder` uses, and refuses shards of another codebook."""
    from videopoet.superres import SuperResDecoder

    low, _ = tiny_stage_predictions(tmp_path, clips=3)
    run = tmp_path / "decoder"
    train = ["train", "superres-decoder", "--superres", str(tmp_path / "stage"), "--low-shards", str(low), "--out", str(run),
             "--crop", "32", "--batch-size", "2", "--checkpoint-every", "1", "--steps", "2", "--device", "cpu"]  # fmt: skip
    assert main([*train, "--until", "1"]) == 0
    assert main(train) == 0  # resumes at step 1
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log if "psnr" in entry] == [0, 1]
    decoder = SuperResDecoder.from_pretrained(run / "checkpoint")
    assert decoder.config.scale == 2 and decoder.config.bits == 12
    from videopoet.pretrained import DEFAULT_MODEL
    from videopoet.tokenizers import VideoTokenizer
    from videopoet.train.superres import DecoderClips, SuperResDecoderTask

    def distance(tokenizer: VideoTokenizer) -> float:  # of the low decoder from the tokenizer's decoder
        return sum(float((a - b).detach().abs().sum()) for a, b in zip(decoder.low_decoder.parameters(), tokenizer.decoder.parameters()))

    # it started from the decoder of the tokenizer whose codes the shards hold (the default model's), two steps away
    assert distance(VideoTokenizer.from_pretrained(DEFAULT_MODEL)) < 0.2 * distance(VideoTokenizer.from_pretrained())

    task = SuperResDecoderTask(decoder, SuperResTransformer.from_pretrained(tmp_path / "stage"), DecoderClips(TokenShards(low), 2, 4, 32))
    batch = task.collate([task.data[0], task.data[2]])
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as --precision bf16 trains: made, then kept
        made, kept = task.stage_latents(batch), task.stage_latents(batch)
    assert made.dtype == kept.dtype == torch.float32 and made.shape == (2, 12, 5, 16, 16) and torch.equal(made, kept)
    figures = tmp_path / "figures.json"
    assert main(["eval", "superres", str(tmp_path / "stage"), "--decoder", str(run / "checkpoint"), "--clips", "1", "--json", str(figures)]) == 0
    assert json.loads(figures.read_text())["superres"]["psnr"] > 5
    tokens = make_pair(tmp_path / "other-codes")[0]
    assert main([*train[:5], str(tokens), "--out", str(tmp_path / "refused")]) == 2
    assert "holds 64 video codes, the stage takes 4096" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    assert main([*train[:-2], "--video-tokenizer", "x", "--init-decoder", "y", "--out", str(tmp_path / "refused")]) == 2
    assert "give one starting point" in capsys.readouterr().err and not (tmp_path / "refused").exists()
