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
