import json
import shutil
import wave

import numpy as np
import pytest
import torch

from videopoet.cli import main
from videopoet.data.audio import AudioFileClips, ShapesWorldAudio
from videopoet.data.speech import make_utterance, synthesize_speech
from videopoet.io import MediaError, read_audio
from videopoet.metrics import mel_distance, si_snr
from videopoet.tokenizers.audio_measure import world_audio_accuracy
from videopoet.world import render_audio, sample_scene

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (Debian package) is not installed")


def _write_wav(path, samples: np.ndarray, rate: int = 16_000) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_world_audio_items_are_pure_functions_of_the_index():
    data = ShapesWorldAudio(samples=4000, seed=1)
    first, again, other = data[5], data[5], data[6]
    assert first.shape == (4000,) and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert ShapesWorldAudio(samples=40_000)[0].shape == (40_000,)  # longer than a clip: zero-padded


def test_audio_files_are_read_resampled_and_bad_ones_skipped(tmp_path, world_mp4):
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(22_050) / 22_050)
    _write_wav(tmp_path / "tone.wav", tone, rate=22_050)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    read = read_audio(tmp_path / "tone.wav")
    assert abs(read.shape[0] - 16_000) <= 32 and abs(float(read.abs().max()) - 0.5) < 0.02
    assert read_audio(world_mp4[0]).shape[0] == pytest.approx(len(world_mp4[1].audio), abs=400)  # a video's soundtrack
    clips = AudioFileClips([tmp_path / "tone.wav", tmp_path / "broken.wav", world_mp4[0]], samples=2000, progress=False)
    assert [path for path, _ in clips.report.skipped] == [str(tmp_path / "broken.wav")]
    assert clips[3].shape == (2000,) and torch.equal(clips[3], clips[3])
    with pytest.raises(MediaError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="no readable audio"):
        AudioFileClips([tmp_path / "broken.wav"], progress=False)


def test_utterances_are_reproducible_and_splits_differ():
    assert make_utterance("train", 0, 3) == make_utterance("train", 0, 3)
    assert make_utterance("train", 0, 3) != make_utterance("test", 0, 3)
    texts = {make_utterance("train", 0, i).text for i in range(50)}
    assert len(texts) > 45
    with pytest.raises(ValueError, match="split="):
        make_utterance("valid", 0, 0)


@needs_espeak
def test_speech_is_synthesized_and_an_interrupted_run_resumes(tmp_path):
    paths = synthesize_speech(tmp_path, 3, split="test", progress=False)
    assert [path.name for path in paths] == [f"speech-test-{i:05d}.wav" for i in range(3)]
    speech = read_audio(paths[0])
    assert speech.shape[0] > 8000 and float(speech.abs().max()) > 0.05
    stamp = paths[0].stat().st_mtime_ns
    assert len(synthesize_speech(tmp_path, 4, split="test", progress=False)) == 4
    assert paths[0].stat().st_mtime_ns == stamp  # kept, not redone
    assert len((tmp_path / "speech-test.tsv").read_text().splitlines()) == 4
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_audio_metrics():
    wave_ = torch.randn(2, 8000)
    assert si_snr(wave_, wave_) > 100
    assert si_snr(3 * wave_, wave_) > 100  # scale-invariant
    noisy = wave_ + 0.1 * torch.randn_like(wave_)
    assert 19 < si_snr(noisy, wave_) < 21
    assert mel_distance(wave_, wave_, 16_000) == 0
    assert mel_distance(0.1 * wave_, wave_, 16_000) == pytest.approx(2.0, abs=0.01)  # 100x less power: 2 decades
    tone = 0.25 * torch.sin(2 * torch.pi * 440 * torch.arange(16_000) / 16_000)
    hiss = tone + 1e-4 * torch.randn(16_000)  # 67 dB below the tone: inaudible beside it
    assert mel_distance(hiss, tone, 16_000) < 0.1
    with pytest.raises(ValueError, match="one shape"):
        si_snr(torch.zeros(100), torch.zeros(101))


def test_the_evaluator_hears_original_world_audio_right():
    scenes = [sample_scene("test", seed) for seed in range(12)]
    waves = [torch.from_numpy(render_audio(scene, 17)) for scene in scenes]
    assert world_audio_accuracy(waves, scenes, 17) == {"audio_colour": 1.0, "audio_clicks": 1.0}
    silent = [torch.zeros_like(w) for w in waves]
    assert world_audio_accuracy(silent, scenes, 17)["audio_colour"] == 0.0


@needs_espeak
def test_cli_trains_and_evaluates_an_audio_tokenizer(tmp_path, capsys):
    speech = tmp_path / "speech"
    assert main(["data", "speech", "--split", "train", "--n", "2", "--out", str(speech)]) == 0
    run = tmp_path / "run"
    args = ["train", "audio", "--out", str(run), "--steps", "2", "--batch-size", "2", "--seconds", "0.1"]
    assert main(args + ["--audio", str(speech), "--warmup", "1", "--checkpoint-every", "1", "--preset", "shapes-16k"]) == 0
    report = tmp_path / "eval.json"
    assert main(["eval", "audio", str(run / "checkpoint"), "--clips", "2", "--utterances", "2", "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert set(figures) == {"shapes_test", "shapes_compositional", "speech_held_out"}
    assert figures["shapes_test"]["original"] == {"audio_colour": 1.0, "audio_clicks": 1.0}
    assert "SI-SNR" in capsys.readouterr().out


def test_cli_refuses_bad_audio_arguments(tmp_path, capsys):
    assert main(["train", "audio", "--out", str(tmp_path / "r"), "--seconds", "0.001"]) == 2
    assert "--seconds" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", "audio", "--out", str(tmp_path / "r"), "--audio", str(tmp_path / "empty")]) == 2
    assert "no audio or video files" in capsys.readouterr().err


def test_cli_refuses_a_file_share_outside_zero_to_one(tmp_path, capsys):
    (tmp_path / "speech").mkdir()
    assert main(["train", "audio", "--out", str(tmp_path / "r"), "--audio", str(tmp_path / "speech"), "--file-share", "1.5"]) == 2
    assert "--file-share 1.5" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before anything was written
