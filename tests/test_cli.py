import json
import subprocess
import sys

import pytest

from videopoet.cli import main
from videopoet.data import read_captions
from videopoet.io import read_video
from videopoet.world import parse, render_clip


def test_synth_writes_playable_clips_and_captions(tmp_path, capsys):
    out = tmp_path / "train"
    assert main(["data", "synth", "--split", "train", "--n", "5", "--out", str(out), "--workers", "2"]) == 0
    records = read_captions(out)
    assert [r.extra["seed"] for r in records] == [0, 1, 2, 3, 4]
    for record in records:
        media = read_video(out / record.video)
        assert media.video.shape == (3, 17, 64, 64) and media.fps == 8 and media.audio.shape == (34_000,)
        clip = render_clip("train", record.extra["seed"])
        assert record.caption == clip.caption and parse(record.caption) == clip.scene.description
    assert sorted(p.name for p in (out / "clips").iterdir()) == [f"train-{i:07d}.mp4" for i in range(5)]


def test_synth_resumes_and_refuses_to_mix_settings(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["data", "synth", "--split", "test", "--n", "2", "--out", str(out), "--workers", "1"]) == 0
    first = (out / "clips" / "test-0000000.mp4").stat().st_mtime_ns
    assert main(["data", "synth", "--split", "test", "--n", "4", "--out", str(out), "--workers", "1"]) == 0
    assert (out / "clips" / "test-0000000.mp4").stat().st_mtime_ns == first  # kept, not rewritten
    assert len(read_captions(out)) == 4
    before = sorted(p.name for p in (out / "clips").iterdir())
    assert main(["data", "synth", "--split", "test", "--n", "2", "--size", "32", "--out", str(out)]) == 2
    assert "size=64" in capsys.readouterr().err
    assert main(["data", "synth", "--split", "test", "--n", "2", "--seed-start", "9", "--out", str(out)]) == 2
    assert "seed_start=0" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "clips").iterdir()) == before and len(read_captions(out)) == 4


def test_synth_refuses_bad_arguments(tmp_path, capsys):
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "holiday.jpg").write_bytes(b"not ours")
    assert main(["data", "synth", "--split", "test", "--n", "2", "--out", str(stranger)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in stranger.iterdir()] == ["holiday.jpg"]
    assert main(["data", "synth", "--split", "test", "--n", "2", "--size", "50", "--out", str(tmp_path / "x")]) == 2
    assert "multiples of 16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "synth", "--split", "valid", "--n", "2", "--out", str(tmp_path / "y")])


def test_eval_shapes_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "comp"
    main(["data", "synth", "--split", "compositional", "--n", "4", "--out", str(out), "--workers", "2"])
    capsys.readouterr()
    report_path = tmp_path / "report.json"
    assert main(["eval", "shapes", str(out), "--json", str(report_path), "--workers", "2"]) == 0
    table = capsys.readouterr().out
    assert "all_right" in table and "audio_colour" in table
    report = json.loads(report_path.read_text())
    assert report["clips"] == 4 and report["accuracy"]["all_right"] == 1.0


def test_eval_shapes_names_a_bad_caption(tmp_path, capsys):
    out = tmp_path / "data"
    main(["data", "synth", "--split", "test", "--n", "1", "--out", str(out), "--workers", "1"])
    (out / "captions.jsonl").write_text(json.dumps({"video": "clips/test-0000000.mp4", "caption": "a cat on a mat"}) + "\n")
    assert main(["eval", "shapes", str(out)]) == 2
    assert "a cat on a mat" in capsys.readouterr().err


def test_sheet_and_scan(tmp_path, capsys):
    out = tmp_path / "data"
    main(["data", "synth", "--split", "test", "--n", "3", "--out", str(out), "--workers", "1"])
    assert main(["data", "sheet", str(out), "-o", str(tmp_path / "sheet.png"), "--n", "3"]) == 0
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    assert main(["data", "scan", str(out)]) == 0
    (out / "clips" / "broken.mp4").write_text("garbage")
    assert main(["data", "scan", str(out)]) == 1
    assert "3 read, 1 skipped" in capsys.readouterr().out


def test_the_command_is_installed():
    result = subprocess.run([sys.executable, "-m", "videopoet", "--help"], capture_output=True, text=True, check=True)
    assert "data" in result.stdout and "eval" in result.stdout


def test_train_tokenizer_refuses_a_negative_adversarial_weight(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "tokenizer", "--preset", "tiny", "--steps", "1", "--out", str(out), "--adversarial-weight", "-1"]) == 2
    assert "--adversarial-weight -1.0: must be 0" in capsys.readouterr().err
    assert not out.exists()
