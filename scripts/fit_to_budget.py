"""Run one or more `videopoet train ...` commands side by side within a wall-clock budget, each
with a whole cosine schedule that ends inside it (for a borrowed GPU with minutes to spare).

Each run first trains `--probe-steps` steps (inside its warm-up, so the learning rate does not
depend on the schedule's length yet), all runs at once as they will run later; its steps per
second from its log, while all of them were still probing, then set its `--steps` so that it
ends `--reserve` seconds before the budget does, and the same command resumes it to there. The
probe's time outside its timed steps (the process starting, its last validation and checkpoint)
is counted again for the resumed run. A run still going at the end of the
budget is stopped; its last checkpoint stands.

    python scripts/fit_to_budget.py --seconds 420 \\
        --run "videopoet train tokenizer --out runs/a --preset shapes-64-wide --warmup 200 ..." \\
        --run "videopoet train tokenizer --out runs/b --init ... --warmup 100 ..."

Each command gives --out and --warmup (at least --probe-steps), and neither --steps nor --until.
A run's own output goes to OUT/fit_to_budget.txt.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


SPEED_MARGIN = 0.95  # plan for a little less than the probe's speed (checkpoint writes, jitter)


@dataclass
class Run:
    command: list[str]
    out: Path
    warmup: int
    rate: float = 0.0  # steps per second while all runs train side by side
    overhead: float = 0.0  # seconds of a process beyond its steps (start-up, last validation, saving)
    steps: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str, probe_steps: int) -> "Run":
        command = shlex.split(text)
        for flag in ("--steps", "--until"):
            if flag in command:
                raise ValueError(f"run {text!r}: leave out {flag}; the budget sets it")
        values = {}
        for flag in ("--out", "--warmup"):
            if flag not in command or command.index(flag) + 1 == len(command):
                raise ValueError(f"run {text!r}: needs {flag} VALUE")
            values[flag] = command[command.index(flag) + 1]
        warmup = int(values["--warmup"])
        if warmup < probe_steps:
            raise ValueError(f"run {text!r}: --warmup {warmup} is shorter than the probe ({probe_steps} steps), so its schedule would depend on the probe")
        return cls(command, Path(values["--out"]), warmup)

    def start(self, *extra: str) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "fit_to_budget.txt", "a") as log:
            self.process = subprocess.Popen([*self.command, *extra], stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> list[dict]:
        path = self.out / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def last_step(self) -> int:
        steps = [record["step"] for record in self.log() if "seconds" in record]
        return max(steps, default=-1)


def timed_records(records: list[dict], skip: int) -> list[dict]:
    return [record for record in records if "seconds" in record and record["step"] >= skip]


def measured_rates(logs: list[list[dict]], skip: int) -> list[float]:
    """Each run's steps per second from its log records at or after step `skip`, counted only
    while every run was still probing (a run that finishes its probe first leaves the others
    more of the GPU, which they will not have later). `seconds` counts from each run's start;
    the runs start together."""
    timed = [timed_records(records, skip) for records in logs]
    if any(len(records) < 2 for records in timed):
        raise RuntimeError(f"too few timed log records after step {skip} to measure a rate: {[len(records) for records in timed]}")
    window_end = min(records[-1]["seconds"] for records in timed)
    rates = []
    for records in timed:
        inside = [record for record in records if record["seconds"] <= window_end]
        if len(inside) < 2:  # this run logged only once inside the window: use its whole probe
            inside = records
        first, last = inside[0], inside[-1]
        rates.append((last["step"] - first["step"]) / max(last["seconds"] - first["seconds"], 1e-9))
    return rates


def wait_all(runs: list[Run], deadline: float, every: float = 30.0) -> None:
    """Wait for every run, printing progress every `every` seconds; stop those still going at `deadline`."""
    last_report = time.monotonic()
    while any(run.process.poll() is None for run in runs):
        now = time.monotonic()
        if now >= deadline:
            for run in runs:
                if run.process.poll() is None:
                    print(f"{run.out}: budget spent at step {run.last_step()}, stopping it", flush=True)
                    run.process.terminate()
                    run.process.wait()
            return
        if now - last_report >= every:
            print(" | ".join(f"{run.out.name}: step {run.last_step()}/{run.steps or '?'}" for run in runs), flush=True)
            last_report = now
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, required=True, help="wall-clock budget for everything, probe included")
    parser.add_argument("--run", action="append", required=True, help="a `videopoet train ...` command (quoted); repeat for runs side by side")
    parser.add_argument("--probe-steps", type=int, default=80, help="steps each run trains first to measure its speed")
    parser.add_argument("--reserve", type=float, default=10.0, help="seconds left over at the end (the last checkpoint's write)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.probe_steps < 20:
        parser.error(f"--seconds must be positive and --probe-steps at least 20 (got {args.seconds}, {args.probe_steps})")
    runs = [Run.parse(text, args.probe_steps) for text in args.run]
    deadline = time.monotonic() + args.seconds

    probe_started = time.monotonic()
    for run in runs:
        run.start("--steps", "1000000", "--until", str(args.probe_steps))
    wait_all(runs, deadline)
    probe_seconds = time.monotonic() - probe_started
    for run in runs:
        if run.process.returncode:
            print(f"{run.out}: the probe failed (exit {run.process.returncode}); see {run.out / 'fit_to_budget.txt'}", file=sys.stderr)
            return 1
    for run, rate in zip(runs, measured_rates([run.log() for run in runs], skip=args.probe_steps // 4)):
        run.rate = rate
    left = deadline - time.monotonic() - args.reserve
    for run in runs:
        # the resumed process starts, validates and saves again: the probe's time beyond its steps
        run.overhead = max(0.0, probe_seconds - args.probe_steps / run.rate)
        run.steps = args.probe_steps + max(1, int(SPEED_MARGIN * run.rate * (left - run.overhead)))
        run.start("--steps", str(run.steps))
    wait_all(runs, deadline)

    print(f"{'run':<40} {'steps/s':>8} {'planned':>8} {'reached':>8} {'overhead':>9}  exit")
    for run in runs:
        code = run.process.returncode
        print(f"{str(run.out):<40} {run.rate:>8.2f} {run.steps:>8} {run.last_step() + 1:>8} {run.overhead:>8.1f}s  {code}")
    return 0 if all(run.process.returncode == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
