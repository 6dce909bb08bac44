"""The shipped default model: present, loadable, and good enough for what it ships for."""

import re
import shlex
from pathlib import Path

import av
import pytest
import torch

from videopoet.cli import main
from videopoet.io.write import from_uint8_frames
from videopoet.lm import VideoPoetLM
from videopoet.metrics import psnr
from videopoet.pretrained import DEFAULT_MODEL, SHIPPED, VIDEO_TOKENIZER, model_part
from videopoet.tokenizers import AudioTokenizer, VideoTokenizer
from videopoet.tokenizers.audio_measure import reconstruct_audio, world_audio_accuracy
from videopoet.tokenizers.measure import reconstruct
from videopoet.world import parse, render_audio, render_clip, sample_scene
from videopoet.world.evaluator import evaluate


def test_the_shipped_weights_fit_the_size_budget():
    """Every shipped part together: the default model and the package's video tokenizer."""
    size = sum(path.stat().st_size for path in SHIPPED.rglob("*") if path.is_file())
    assert (DEFAULT_MODEL / "lm").is_dir() and (VIDEO_TOKENIZER / "model.safetensors").is_file()
    assert 0 < size < 60e6


def test_the_package_video_tokenizer_is_the_default_and_a_model_keeps_its_own():
    def weights(tokenizer: VideoTokenizer) -> list[torch.Tensor]:
        return list(tokenizer.state_dict().values())

    default, package, models_own = (VideoTokenizer.from_pretrained(d) for d in (None, VIDEO_TOKENIZER, DEFAULT_MODEL))
    assert all(torch.equal(a, b) for a, b in zip(weights(default), weights(package)))
    assert not all(torch.equal(a, b) for a, b in zip(weights(default), weights(models_own)))


def test_a_missing_part_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no 'video_tokenizer' part"):
        model_part("video_tokenizer", tmp_path)


@pytest.mark.parametrize("directory", [VIDEO_TOKENIZER, DEFAULT_MODEL], ids=["package", "default-model"])
def test_the_shipped_video_tokenizers_reconstruct_compositional_clips(directory):
    """Regression floor for the shipped weights (measured on 200 clips: see the README)."""
    tokenizer = VideoTokenizer.from_pretrained(directory)
    assert tokenizer.config.image_size == 64
    clips = [render_clip("compositional", seed) for seed in range(12)]
    videos = [from_uint8_frames(clip.video) for clip in clips]
    reconstructions, _ = reconstruct(tokenizer, videos)
    assert sum(psnr(r, v) for r, v in zip(reconstructions, videos)) / len(videos) > 26.5
    accuracy = evaluate((video, None, parse(clip.caption)) for video, clip in zip(reconstructions, clips)).accuracy()
    assert accuracy["camera"] >= 11 / 12 and accuracy["colour"] >= 0.75, accuracy


def test_the_shipped_audio_tokenizer_keeps_the_world_audio_colours():
    """Regression floor for the shipped codec (measured on 200 clips per split: see the README)."""
    codec = AudioTokenizer.from_pretrained()
    assert codec.config.frames_per_second == 50
    scenes = [sample_scene("compositional", seed) for seed in range(24)]
    waves = [torch.from_numpy(render_audio(scene, 17)) for scene in scenes]
    reconstructions, codes = reconstruct_audio(codec, waves)
    assert codes[0].shape == (4, 107)
    assert world_audio_accuracy(reconstructions, scenes, 17)["audio_colour"] >= 0.95


def quick_start_generate_command() -> list[str]:
    """The arguments of the README quick start's `videopoet generate` command."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start") :]
    line = re.search(r"videopoet generate .*", quick_start).group(0)
    return shlex.split(line)[1:]


def test_the_quick_start_command_writes_an_mp4_that_plays(tmp_path, monkeypatch):
    """The README's main command, with the shipped model: frames and soundtrack decode."""
    monkeypatch.chdir(tmp_path)
    arguments = quick_start_generate_command()
    assert arguments[0] == "generate" and arguments[-2:] == ["-o", "out.mp4"]
    assert main(arguments + ["--seed", "0"]) == 0
    with av.open(str(tmp_path / "out.mp4")) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(tmp_path / "out.mp4")) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    size = VideoPoetLM.from_pretrained(model_part("lm")).config.clip["size"]
    assert len(frames) == 17 and frames[0].shape == (size, size, 3)
    assert samples >= 16_000 * 2  # 17 frames at 8 fps: 2.125 s


