import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from videopoet.data.world import ShapesWorldVideos
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig
from videopoet.train import TrainConfig, Trainer
from videopoet.train.tokenizer import TokenizerLossConfig, TokenizerTask

SCRIPT = """
import sys, torch
from videopoet.data.world import ShapesWorldVideos
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig
from videopoet.train import TrainConfig, Trainer
from videopoet.train.tokenizer import TokenizerLossConfig, TokenizerTask
torch.manual_seed(0)
task = TokenizerTask(VideoTokenizer(VideoTokenizerConfig.preset("tiny")), ShapesWorldVideos(size=32, frames=5),
                     TokenizerLossConfig(adversarial_start=3))
Trainer(task, TrainConfig(steps=int(sys.argv[2]), batch_size=2, warmup_steps=2, checkpoint_every=2, log_every=1),
        sys.argv[1]).run(progress=False)
"""


def _trainer(out: Path, steps: int, checkpoint_every: int = 2, learning_rate: float = 1e-3, precision: str = "auto") -> Trainer:
    torch.manual_seed(0)
    task = TokenizerTask(
        VideoTokenizer(VideoTokenizerConfig.preset("tiny")), ShapesWorldVideos(size=32, frames=5), TokenizerLossConfig(adversarial_start=3)
    )
    config = TrainConfig(
        steps=steps, batch_size=2, learning_rate=learning_rate, warmup_steps=2, checkpoint_every=checkpoint_every, log_every=1, precision=precision
    )
    return Trainer(task, config, out)


def test_a_few_steps_reduce_the_reconstruction_loss(tmp_path):
    history = _trainer(tmp_path, steps=30, checkpoint_every=30, learning_rate=3e-3).run(progress=False)
    first = sum(h["l2"] for h in history[:5]) / 5
    last = sum(h["l2"] for h in history[-5:]) / 5
    assert last < 0.5 * first, (first, last)
    assert "discriminator" in history[-1] and "generator" in history[-1]  # the adversarial phase switched on


def test_the_discriminator_can_learn_at_its_own_rate(tmp_path):
    trainer = _trainer(tmp_path, steps=4, learning_rate=1e-3)
    trainer.task.losses.discriminator_lr_scale = 4.0
    trainer.run(progress=False)
    tokenizer_lr = trainer.optimizers["tokenizer"].param_groups[0]["lr"]
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(4 * tokenizer_lr)
    with pytest.raises(ValueError, match="discriminator_lr_scale"):
        TokenizerLossConfig(discriminator_lr_scale=0)
    with pytest.raises(ValueError, match="discriminator_channels=6"):
        TokenizerLossConfig(discriminator_channels=6)


def test_bf16_on_the_cpu_trains_fp32_weights_on_bf16_arithmetic(tmp_path):
    """precision="bf16" autocasts on the CPU too ("auto" there is fp32): the losses differ a little
    from fp32's, stay finite, and the weights and checkpoint stay fp32."""
    assert _trainer(tmp_path / "auto", steps=2).autocast_dtype is None
    fp32 = _trainer(tmp_path / "fp32", steps=2).run(progress=False)
    trainer = _trainer(tmp_path / "bf16", steps=2, precision="bf16")
    assert trainer.autocast_dtype == torch.bfloat16
    bf16 = trainer.run(progress=False)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in bf16)
    assert bf16[0]["l2"] != fp32[0]["l2"] and abs(bf16[0]["l2"] - fp32[0]["l2"]) < 0.05 * fp32[0]["l2"]
    assert all(parameter.dtype == torch.float32 for parameter in trainer.task.tokenizer.parameters())
    saved = load_file(tmp_path / "bf16" / "checkpoint" / "model.safetensors")
    assert {tensor.dtype for tensor in saved.values() if tensor.is_floating_point()} == {torch.float32}


def test_resume_gives_exactly_the_same_next_steps(tmp_path):
    straight = _trainer(tmp_path / "straight", steps=6).run(progress=False)
    _trainer(tmp_path / "split", steps=6).run(progress=False, until=4)
    resumed_trainer = _trainer(tmp_path / "split", steps=6)
    resumed = resumed_trainer.run(progress=False)
    assert resumed_trainer.step == 6 and len(resumed) == 2
    for expected, actual in zip(straight[4:], resumed):
        assert actual == expected
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(6))


def test_the_checkpoint_is_a_loadable_tokenizer(tmp_path):
    trainer = _trainer(tmp_path, steps=2)
    trainer.run(progress=False)
    tokenizer = VideoTokenizer.from_pretrained(tmp_path / "checkpoint")
    trained = trainer.task.tokenizer.eval()
    video = ShapesWorldVideos(size=32, frames=5)[0][None]
    assert torch.equal(tokenizer.encode(video), trained.encode(video))
    with pytest.raises(FileNotFoundError, match="no .video_tokenizer. part"):
        VideoTokenizer.from_pretrained(tmp_path)


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), "400"])
    deadline = time.time() + 120
    while not (out / "checkpoint" / "training_state.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = torch.load(out / "checkpoint" / "training_state.pt", weights_only=False)["step"]
    assert 2 <= saved < 400 and saved % 2 == 0
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    trainer = _trainer(out, steps=saved + 2)
    assert trainer.resume() and trainer.step == saved
    history = trainer.run(progress=False)
    assert len(history) == 2 and trainer.step == saved + 2
    VideoTokenizer.from_pretrained(out / "checkpoint")
    assert len(leftovers) <= 1  # at most the staging folder of the checkpoint being written when killed
