import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_tokenizer_shape_failures_prints_both_tables_with_the_originals_beside():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "tokenizer_shape_failures.py"), "--clips", "3"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "objects whose shape the evaluator misreads" in run.stdout and "what moves" in run.stdout
    rows = [line for line in run.stdout.splitlines() if line.startswith(("circle", "square", "triangle"))]
    assert rows and all(line.rstrip().endswith("none") for line in rows)  # the originals read right


def test_tokenizer_shape_failures_refuses_bad_arguments():
    script = str(ROOT / "scripts" / "tokenizer_shape_failures.py")
    run = subprocess.run([sys.executable, script, "--clips", "0"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "--clips 0" in run.stderr
    run = subprocess.run([sys.executable, script, "--clips", "1", "--size", "40"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "--size 40" in run.stderr and "Traceback" not in run.stderr


def test_discriminator_probe_learns_and_prints_its_table():
    script = str(ROOT / "scripts" / "discriminator_probe.py")
    run = subprocess.run([sys.executable, script, "--clips", "4", "--steps", "50", "--batch-size", "2"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "50"] and all(len(row) == 4 for row in rows)
    assert "dB PSNR" in run.stdout
    run = subprocess.run([sys.executable, script, "--clips", "2"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "--clips 2" in run.stderr


def _script(name: str):
    """The module of scripts/NAME.py."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def _fit_to_budget():
    return _script("fit_to_budget")


# A stand-in for `videopoet train ...`: logs {"step", "seconds"} like the shared loop, resumes
# after its last logged step, takes `--start` seconds to start and `--delay` seconds a step.
FAKE_TRAINER = """
import argparse, json, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--out"); parser.add_argument("--warmup"); parser.add_argument("--delay", type=float)
parser.add_argument("--steps", type=int); parser.add_argument("--until", type=int); parser.add_argument("--start", type=float, default=0)
args = parser.parse_args()
time.sleep(args.start)
log = pathlib.Path(args.out) / "log.jsonl"
done = [json.loads(line)["step"] for line in log.read_text().splitlines()] if log.exists() else []
started = time.monotonic()
with open(log, "a") as out:
    for step in range(max(done, default=-1) + 1, min(args.steps, args.until or args.steps)):
        time.sleep(args.delay)
        out.write(json.dumps({"step": step, "seconds": time.monotonic() - started}) + "\\n"); out.flush()
"""


def test_fit_to_budget_measures_rates_only_while_every_run_probes():
    fit = _fit_to_budget()
    fast = [{"step": step, "seconds": step * 0.1} for step in range(0, 100, 10)]  # probe over at 9 s
    # the slow run doubles its speed once the fast one stops probing: that speed is not kept
    slow = [{"step": step, "seconds": step * 0.5 if step <= 18 else 9 + (step - 18) * 0.25} for step in range(0, 100, 2)]
    fast_rate, slow_rate = fit.measured_rates([fast, slow], skip=4)
    assert abs(fast_rate - 10) < 1e-6 and abs(slow_rate - 2) < 1e-6


def test_fit_to_budget_refuses_commands_it_cannot_fit():
    fit = _fit_to_budget()
    for command, reason in [
        ("videopoet train lm --out r --warmup 100 --steps 5", "leave out --steps"),
        ("videopoet train lm --warmup 100", "needs --out"),
        ("videopoet train lm --out r --warmup 10", "shorter than the probe"),
    ]:
        try:
            fit.Run.parse(command, probe_steps=40)
        except ValueError as error:
            assert reason in str(error)
        else:
            raise AssertionError(f"accepted {command!r}")
    script = str(ROOT / "scripts" / "fit_to_budget.py")
    run = subprocess.run([sys.executable, script, "--seconds", "0", "--run", "videopoet train lm --out r --warmup 100"], capture_output=True, text=True)
    assert run.returncode == 2 and "--seconds must be positive" in run.stderr


def test_fit_to_budget_fits_schedules_into_the_budget_and_stops_what_overruns(tmp_path):
    trainer = tmp_path / "trainer.py"
    trainer.write_text(FAKE_TRAINER)
    script = str(ROOT / "scripts" / "fit_to_budget.py")

    def run(seconds: float, delay: float):
        runs = [f"{sys.executable} {trainer} --out {tmp_path / name} --warmup 40 --delay {delay}" for name in ("a", "b")]
        args = [sys.executable, script, "--seconds", str(seconds), "--probe-steps", "20", "--reserve", "2"]
        for command in runs:
            args += ["--run", command]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    fitted = run(seconds=7, delay=0.02)  # 2 s reserve: room for the resumed process's start on a busy machine
    assert fitted.returncode == 0, fitted.stdout + fitted.stderr
    for name in ("a", "b"):
        rows = [line.split() for line in fitted.stdout.splitlines() if line.startswith(str(tmp_path / name))]
        assert len(rows) == 1
        planned, reached = int(rows[0][2]), int(rows[0][3])
        assert 20 < planned == reached  # a schedule longer than the probe, run to its end
    for name in ("a", "b"):
        (tmp_path / name / "log.jsonl").unlink()
    overrun = run(seconds=1.5, delay=0.1)  # 20 probe steps take 2 s: the budget ends inside the probe
    assert overrun.returncode == 1 and "budget spent" in overrun.stdout


def test_fit_to_budget_counts_the_start_up_of_the_resumed_run(tmp_path):
    """A run that takes 3 s to start: the probe's 3 s beyond its steps are counted again, so the
    resumed run still ends its schedule inside the budget (with that count left out, this run
    was stopped before its end and the test failed)."""
    trainer = tmp_path / "trainer.py"
    trainer.write_text(FAKE_TRAINER)
    command = f"{sys.executable} {trainer} --out {tmp_path / 'slow'} --warmup 40 --delay 0.02 --start 3"
    args = [sys.executable, str(ROOT / "scripts" / "fit_to_budget.py"), "--seconds", "12", "--probe-steps", "20", "--reserve", "2", "--run", command]
    fitted = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert fitted.returncode == 0, fitted.stdout + fitted.stderr
    row = next(line.split() for line in fitted.stdout.splitlines() if line.startswith(str(tmp_path / "slow")))
    planned, reached, overhead = int(row[2]), int(row[3]), float(row[4].rstrip("s"))
    assert 20 < planned == reached and overhead >= 3


def test_superres_fusion_probe_trains_both_heads_and_prints_every_variant(tmp_path):
    """scripts/superres_fusion_probe.py on a tiny untrained stage's predictions for two clips:
    a row per variant (PSNR for all but the decoded 32 px clip, then the evaluator's figures);
    more training clips than predictions is refused before any work."""
    from test_superres_training import tiny_stage_predictions

    _, predicted = tiny_stage_predictions(tmp_path, clips=2)
    shipped = str(ROOT / "videopoet" / "pretrained" / "shapes-64" / "video_tokenizer")
    script = str(ROOT / "scripts" / "superres_fusion_probe.py")
    command = [sys.executable, script, str(tmp_path / "stage"), "--decoder", shipped, "--predicted", str(predicted), "--test-clips", "2", "--steps", "2"]
    run = subprocess.run([*command, "--train-clips", "2"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    rows = {line[:22].strip(): line[22:].split() for line in run.stdout.splitlines()[2:]}
    assert list(rows) == ["decoded 32", "bicubic", "decoded codes", "head with codes", "head, bicubic alone"]
    assert len(rows["decoded 32"]) == 7 and all(len(values) == 8 for name, values in rows.items() if name != "decoded 32")
    assert all(10 < float(values[0]) < 60 for name, values in rows.items() if name != "decoded 32")
    refused = subprocess.run([*command, "--train-clips", "3"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "fewer than --train-clips 3" in refused.stderr


def test_superres_soft_probe_trains_both_decoders_and_prints_every_variant(tmp_path):
    """scripts/superres_soft_probe.py on a tiny untrained stage: a row per variant (PSNR for all
    but the decoded 32 px clip, then the evaluator's figures); zero steps are refused."""
    from test_superres_training import tiny_stage_predictions

    tiny_stage_predictions(tmp_path, clips=2)
    script = str(ROOT / "scripts" / "superres_soft_probe.py")
    command = [sys.executable, script, str(tmp_path / "stage"), "--train-clips", "2", "--test-clips", "2", "--batch-size", "2", "--crop", "4"]
    run = subprocess.run([*command, "--steps", "2"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("soft latents: mean |bit|")
    rows = {line[:30].strip(): line[30:].split() for line in lines[3:]}
    assert list(rows) == ["decoded 32", "bicubic", "greedy codes, its decoder", "soft, its decoder", "true codes, soft decoder"]
    assert len(rows["decoded 32"]) == 7 and all(len(values) == 8 for name, values in rows.items() if name != "decoded 32")
    assert all(10 < float(values[0]) < 60 for name, values in rows.items() if name != "decoded 32")
    refused = subprocess.run([*command, "--steps", "0"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "must be positive" in refused.stderr


def test_pack_text_encoder_writes_a_checked_copy_that_names_the_full_encoder(tmp_path):
    script = str(ROOT / "scripts" / "pack_text_encoder.py")
    run = subprocess.run([sys.executable, script, "--out", str(tmp_path / "te"), "--train", "8", "--val", "2", "--compositional", "2", "--check", "4"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "recorded as 'all-MiniLM-L6-v2'" in run.stdout and "lowest cosine similarity" in run.stdout
    assert json.loads((tmp_path / "te" / "vocabulary_subset.json").read_text())["captions"] == 12
    refused = subprocess.run([sys.executable, script, "--out", str(tmp_path / "bad"), "--train", "0"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and not (tmp_path / "bad").exists()


def test_train_lm_gpu_refuses_a_text_encoder_cut_for_fewer_captions(tmp_path):
    """The cut-down encoder must cover every caption the run tokenizes: checked before any work."""
    (tmp_path / "te").mkdir()
    (tmp_path / "te" / "vocabulary_subset.json").write_text(json.dumps({"of": "all-MiniLM-L6-v2", "train": 16, "val": 8}))
    env = {**os.environ, "PYTHON": sys.executable, "RUN": str(tmp_path / "run"), "TEXT": str(tmp_path / "te"), "N": "32", "VAL": "8"}
    run = subprocess.run(["bash", str(ROOT / "scripts" / "train_lm_gpu.sh")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert run.returncode != 0 and "cut for 16 train, 8 test and 0 compositional captions; this run uses 32, 8 and 0" in run.stderr
    assert not (tmp_path / "run").exists()
    for setting, message in [("EVAL_BATCH", "EVAL_BATCH=0: a positive number of clips"), ("PRESET", "PRESET=0: not an LM preset")]:
        refused = subprocess.run(["bash", str(ROOT / "scripts" / "train_lm_gpu.sh")], capture_output=True, text=True, env={**env, setting: "0"}, cwd=ROOT, timeout=60)
        assert refused.returncode != 0 and message in refused.stderr and not (tmp_path / "run").exists()
    env["TEXT"] = str(tmp_path / "missing")
    run = subprocess.run(["bash", str(ROOT / "scripts" / "train_lm_gpu.sh")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert run.returncode != 0 and "no such folder" in run.stderr


def _superres_gpu(env: dict, run_folder: Path) -> subprocess.CompletedProcess:
    settings = {"PYTHON": sys.executable, "RUN": str(run_folder), "WORKERS": "1", **env}
    return subprocess.run(["bash", str(ROOT / "scripts" / "train_superres_gpu.sh")], capture_output=True, text=True, env={**os.environ, **settings}, cwd=ROOT, timeout=600)


def test_train_superres_gpu_refuses_bad_settings_before_any_work(tmp_path):
    cut = tmp_path / "te"
    cut.mkdir()
    (cut / "vocabulary_subset.json").write_text(json.dumps({"of": "all-MiniLM-L6-v2", "train": 16, "val": 8, "compositional": 4}))
    fine = {"TEXT": str(cut), "N": "16", "VAL": "8", "EVAL": "4", "PRED": "8"}
    for change, message in [
        ({"PRED": "32"}, "PRED=32: the decoder trains on the stage's predictions for train clips, of which there are N=16"),
        ({"PROBE": "5"}, "PROBE=5: fit_to_budget times at least 20 steps"),
        ({"WIDTH": "wide"}, "WIDTH=wide: must be a positive whole number"),
        ({"EVAL": "-1"}, "EVAL=-1: must be a whole number of clips"),
        ({"DECODER_STEPS": "0"}, "DECODER_STEPS=0: must be a positive whole number"),
        ({"TOKENIZER": str(tmp_path)}, "not a video tokenizer folder"),
        ({"N": "32", "PRED": "8"}, "cut for 16 train, 8 test and 4 compositional captions; this run uses 32, 8 and 4"),
    ]:
        refused = _superres_gpu({**fine, **change}, tmp_path / "run")
        assert refused.returncode != 0 and message in refused.stderr, (change, refused.stderr)
        assert not (tmp_path / "run").exists()


def test_train_superres_gpu_trains_exports_and_measures_on_the_cpu(tmp_path):
    """The whole GPU recipe at toy size on the CPU: shards at both sizes, a stage fitted to its
    budget, a decoder trained on its predictions, both parts exported and measured."""
    from videopoet.superres import SuperResDecoder, SuperResTransformer
    from videopoet.tokenizers.text import default_encoder_path

    toy = {"TEXT": str(default_encoder_path()), "N": "4", "VAL": "2", "PRED": "2", "EVAL": "1", "WIDTH": "16", "DEPTH": "3", "HEADS": "2"}
    toy |= {"BATCH": "2", "BUDGET": "45", "PROBE": "20", "DECODER_STEPS": "2", "DECODER_BATCH": "1"}
    run = _superres_gpu(toy, tmp_path / "run")
    assert run.returncode == 0, run.stderr[-3000:]
    export = tmp_path / "run" / "export"
    stage = SuperResTransformer.from_pretrained(export / "superres")
    assert stage.config.width == 16 and stage.config.clip["size"] == 64 and stage.config.scale == 2
    assert SuperResDecoder.from_pretrained(export / "superres_decoder").config.scale == 2 and (export / "log.jsonl").is_file()
    figures = json.loads((export / "eval-superres.json").read_text())
    assert figures["clips"] == 1 and figures["guidance"] == {"text_guidance": 1.0, "low_guidance": 1.0}
    assert figures["superres"]["psnr"] > 0 and isinstance(figures["shortfalls"], list)
    assert "short of the bar" in run.stdout or "clears the bar" in run.stdout


def test_superres_bit_errors_bins_the_stage_wrong_bits_and_decodes_uncertain_ones(tmp_path, capsys):
    import pytest
    import torch

    from videopoet.superres import SuperResConfig, SuperResTransformer
    from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig

    probe = _script("superres_bit_errors")
    torch.manual_seed(0)
    VideoTokenizer(VideoTokenizerConfig(base_channels=8, channel_multipliers=(1, 2, 2), time_downsamples=2, bits=6, image_size=32)).save_pretrained(tmp_path / "video")
    clip = {"size": 32, "frames": 9, "text_encoder": "all-MiniLM-L6-v2", "text_length": 32}
    config = SuperResConfig(codebook_bits=6, width=16, depth=3, heads=2, window=(3, 4, 4), max_frames=3, max_height=16, max_width=16, clip=clip)
    SuperResTransformer(config).save_pretrained(tmp_path / "stage")
    assert probe.main([str(tmp_path / "stage"), "--tokenizer", str(tmp_path / "video"), "--clips", "1"]) == 0
    out = capsys.readouterr().out
    bits = 6 * 3 * 16 * 16  # one clip's 64 px codes: 6 bits, 3 latent frames of 16 x 16
    assert f"1 compositional clips, {bits} bits of 64 px codes" in out
    shares = [float(line.split()[2]) for line in out.splitlines() if line.startswith("[")]
    assert len(shares) == len(probe.BINS) - 1 and abs(sum(shares) - 1) < 0.01
    assert all(f"{change} <{threshold}" in out for change in ("random", "zero") for threshold in probe.THRESHOLDS)
    with pytest.raises(SystemExit):
        probe.main([str(tmp_path / "stage"), "--clips", "0"])
