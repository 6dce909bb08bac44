"""Token shards, the LM training data, multi-process training and resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from videopoet.data.shards import TokenizedClip, TokenShards, write_token_shards
from videopoet.lm import LMConfig, VideoPoetLM
from videopoet.train import TrainConfig, Trainer
from videopoet.lm.vocabulary import TASKS
from videopoet.train.lm import longest_sequence, LMTask, TaskMixtureExamples, TaskValidation, Unigram, collate_items, parse_mixture, vocabulary_of

SETTINGS = {"source": {"kind": "test"}, "size": 8, "frames": 9, "text_encoder": "test", "video_codes": 32, "audio_codes": 8, "audio_levels": 2, "text_length": 4, "text_dim": 6}


def fake_clip(index: int) -> TokenizedClip:
    """A learnable clip: a static video (every latent frame repeats the first) whose first frame
    and audio are drawn from the index."""
    rng = np.random.default_rng(index)
    first = rng.integers(0, 32, (1, 2, 2))
    audio = np.repeat(rng.integers(0, 8, (2, 1)), 5, axis=1)
    text = rng.standard_normal((4, 6)).astype(np.float32)
    return TokenizedClip(
        video=np.repeat(first, 3, axis=0),
        audio=audio,
        flow=np.zeros((3, 2, 2), dtype=np.int64),
        structure=np.repeat(first, 3, axis=0),
        text=text,
        text_mask=np.arange(4) < 1 + index % 4,
        caption=f"clip {index}",
        source={"index": index},
    )


def make_shards(folder: Path, count: int = 40, shard_size: int = 16) -> Path:
    return write_token_shards(folder, count, lambda indices: [fake_clip(i) for i in indices], SETTINGS, shard_size=shard_size, progress=False)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return make_shards(tmp_path_factory.mktemp("shards") / "tokens")


def tiny_lm(shards_folder: Path, seed: int = 0) -> VideoPoetLM:
    torch.manual_seed(seed)
    vocab = vocabulary_of(TokenShards(shards_folder))
    return VideoPoetLM(LMConfig(vocab, width=32, depth=2, heads=2, text_dim=6, text_length=4, max_length=64))


def test_shards_round_trip(shards):
    data = TokenShards(shards)
    assert len(data) == 40 and data.complete and data.settings == SETTINGS
    for index in (0, 17, 39):
        expected = fake_clip(index)
        for name in ("video", "audio", "flow", "structure", "text_mask"):
            assert np.array_equal(data.field(index, name).numpy(), getattr(expected, name)), name
        assert np.allclose(data.field(index, "text").numpy(), expected.text, atol=1e-2)  # stored as float16
        assert data.captions[index] == expected.caption
    assert np.load(shards / "shard-00000" / "video.npy", mmap_mode="r").dtype == np.int16


def test_tokenizing_resumes_after_a_crash_and_refuses_other_settings(tmp_path):
    calls = []

    def crashing(indices):
        calls.extend(indices)
        if len(calls) > 20:
            raise KeyboardInterrupt
        return [fake_clip(i) for i in indices]

    with pytest.raises(KeyboardInterrupt):
        write_token_shards(tmp_path / "t", 40, crashing, SETTINGS, shard_size=16, batch_size=4, progress=False)
    partial = TokenShards(tmp_path / "t")
    assert len(partial) == 16 and not partial.complete  # the finished shard is kept, the broken one is not listed
    calls.clear()
    write_token_shards(tmp_path / "t", 40, lambda indices: calls.extend(indices) or [fake_clip(i) for i in indices], SETTINGS, shard_size=16, progress=False)
    assert calls == list(range(16, 40))  # only what was missing
    resumed, straight = TokenShards(tmp_path / "t"), TokenShards(make_shards(tmp_path / "s"))
    assert all(torch.equal(resumed.field(i, "video"), straight.field(i, "video")) for i in range(40))
    with pytest.raises(ValueError, match="other settings"):
        write_token_shards(tmp_path / "t", 40, crashing, {**SETTINGS, "text_length": 8}, shard_size=16, progress=False)
    with pytest.raises(FileNotFoundError, match="videopoet tokenize"):
        TokenShards(tmp_path / "nothing")


def test_task_mixture_examples(shards):
    data = TaskMixtureExamples(TokenShards(shards), parse_mixture("text_to_video=1,video_to_audio=3"), condition_dropout=0.5, group=4)
    tasks = [data.task_of(i) for i in range(64)]
    assert all(len(set(tasks[i : i + 4])) == 1 for i in range(0, 64, 4))  # groups share a task
    assert 0.5 < tasks.count("video_to_audio") / 64 < 0.95
    first, again = data[5], data[5]
    assert torch.equal(first.sequence.tokens, again.sequence.tokens) and first.drop == again.drop
    batch, drop = collate_items(data.vocab, [data[i] for i in range(4)])
    assert batch.tokens.shape[0] == 4 and drop.dtype == torch.bool
    with pytest.raises(ValueError, match="unknown task 'dance'"):
        parse_mixture("dance=1")
    with pytest.raises(ValueError, match="must be positive"):
        parse_mixture("text_to_video=0")


def test_unigram_baseline_is_the_code_entropy(shards):
    data = TokenShards(shards)
    unigram = Unigram(data)
    validation = TaskValidation(data, ["text_to_video", "video_to_audio"], examples_per_task=8)
    losses = validation.unigram_losses(unigram)
    # 40 clips of random first frames over 32 codes: close to log(32), and never above it by much
    assert 2.5 < losses["text_to_video"] * 13 / 12 < np.log(32) + 0.2  # 12 free codes of 13 outputs per example
    assert 0 < losses["video_to_audio"] < np.log(8) + 0.2


def _trainer(shards_folder: Path, out: Path, steps: int, batch_size: int = 4, tasks: str = "all", validation=None, **config) -> Trainer:
    data = TaskMixtureExamples(TokenShards(shards_folder), parse_mixture(tasks), condition_dropout=0.1, group=batch_size)
    task = LMTask(tiny_lm(shards_folder), data, validation)
    settings = {"steps": steps, "batch_size": batch_size, "learning_rate": 3e-3, "warmup_steps": 2, "checkpoint_every": steps, "log_every": 1}
    return Trainer(task, TrainConfig(**{**settings, **config}), out)


def test_training_beats_the_unigram_baseline(shards, tmp_path):
    data = TokenShards(shards)
    validation = TaskValidation(data, ["frame_continuation", "inpainting"], examples_per_task=8)
    trainer = _trainer(shards, tmp_path, steps=150, tasks="frame_continuation,inpainting", validation=validation, validate_every=75)
    history = trainer.run(progress=False)
    assert np.mean([h["loss"] for h in history[-10:]]) < 0.6 * np.mean([h["loss"] for h in history[:5]])
    lm, unigram = validation.losses(trainer.task.model), validation.unigram_losses(Unigram(data))
    for task in lm:  # the conditioning frames give the rest of a static video away
        assert lm[task] < 0.8 * unigram[task], (task, lm[task], unigram[task])
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert "val_inpainting" in logged[-1]
    loaded = VideoPoetLM.from_pretrained(tmp_path / "checkpoint")
    assert torch.equal(loaded.head.weight, trainer.task.model.head.weight)


def test_gradient_accumulation_matches_the_whole_batch(shards, tmp_path):
    whole = _trainer(shards, tmp_path / "whole", steps=3, tasks="text_to_video").run(progress=False)
    parts = _trainer(shards, tmp_path / "parts", steps=3, tasks="text_to_video", accumulation=2).run(progress=False)
    for a, b in zip(whole, parts):
        assert abs(a["loss"] - b["loss"]) < 1e-4


DDP_SCRIPT = """
import json, sys, torch
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_lm_training import _trainer
from videopoet.lm import VideoPoetLM
trainer = _trainer(Path(sys.argv[1]), Path(sys.argv[2]), steps=3, batch_size=int(sys.argv[3]), tasks="text_to_video",
                   fsdp=sys.argv[4] == "fsdp", checkpoint_every=2)
history = trainer.run(progress=False)
if trainer.rank == 0:  # the weights as the checkpoint holds them (gathered when sharded)
    state = VideoPoetLM.from_pretrained(Path(sys.argv[2]) / "checkpoint").state_dict()
    torch.save({{"history": history, "state": state}}, Path(sys.argv[2]) / "result.pt")
if trainer.sharded:  # a sharded run resumes from its (full) training state
    again = _trainer(Path(sys.argv[1]), Path(sys.argv[2]), steps=4, batch_size=2, tasks="text_to_video", fsdp=True, checkpoint_every=2)
    assert again.resume() and again.step == 3
    again.run(progress=False)
"""


@pytest.fixture(scope="module")
def single_process_run(shards, tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    script = folder / "train.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, str(script), str(shards), str(folder / "one"), "4", "single"], env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    return script, torch.load(folder / "one" / "result.pt")


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_gloo_processes_match_one_process(shards, single_process_run, tmp_path, mode):
    script, one = single_process_run
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]  # a free port of its own
    double = subprocess.run([*command, str(script), str(shards), str(tmp_path / "two"), "2", mode], env=env, capture_output=True, text=True, timeout=300)
    assert double.returncode == 0, double.stderr[-3000:]
    two = torch.load(tmp_path / "two" / "result.pt")
    for a, b in zip(one["history"], two["history"]):
        assert abs(a["loss"] - b["loss"]) < 1e-4, (a, b)
    for name, value in one["state"].items():
        torch.testing.assert_close(two["state"][name], value, atol=1e-5, rtol=1e-4)


def test_a_killed_lm_run_resumes_with_nothing_lost(shards, tmp_path):
    command = [sys.executable, "-m", "videopoet", "train", "lm", "--shards", str(shards), "--batch-size", "4", "--lr", "3e-3",
               "--warmup", "2", "--checkpoint-every", "2", "--steps", "12"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = subprocess.run([*command, "--out", str(tmp_path / "straight")], env=env, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-2000:]
    out = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint" / "training_state.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = torch.load(out / "checkpoint" / "training_state.pt", weights_only=False)["step"]
    assert 2 <= saved < 12
    resumed = subprocess.run([*command, "--out", str(out)], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    model = VideoPoetLM.from_pretrained(tmp_path / "straight" / "checkpoint")
    assert model.config.max_length == longest_sequence(TokenShards(shards), TASKS)  # sized for the longest task
    a = model.state_dict()
    b = VideoPoetLM.from_pretrained(out / "checkpoint").state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 11


def test_eval_lm_prints_each_task_beside_the_unigram(shards, tmp_path):
    from videopoet.cli import main

    _trainer(shards, tmp_path / "run", steps=2, tasks="text_to_video").run(progress=False)
    report = tmp_path / "lm.json"
    code = main(["eval", "lm", str(tmp_path / "run" / "checkpoint"), "--val-shards", str(shards), "--train-shards", str(shards),
                 "--tasks", "text_to_video,video_to_audio", "--examples", "4", "--json", str(report), "--device", "cpu"])  # fmt: skip
    assert code == 0
    figures = json.loads(report.read_text())
    assert set(figures["lm"]) == {"text_to_video", "video_to_audio"} and all(v > 0 for v in figures["unigram"].values())
