"""The one training loop every model uses.

A `TrainTask` says what to train: its modules, its phases (each phase is one loss with its own
optimizer: a GAN has a generator and a discriminator phase), a map-style dataset whose item i
is a pure function of i (so the data at any step is known without replaying the run), and how
to export the trained model. `Trainer` does the rest: AdamW with warm-up and cosine decay per
phase, gradient clipping, bf16 autocast on CUDA, a progress bar, `log.jsonl`, and atomic
checkpoints from which a killed run resumes exactly where the last one left it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from ..checkpoint import write_directory

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "training_state.pt"
LOG_FILE = "log.jsonl"


@dataclass
class TrainConfig:
    """How long and how to optimise. precision: "auto" (bf16 autocast on CUDA, fp32 on CPU),
    "bf16" or "fp32"."""

    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 3e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    log_every: int = 10
    num_workers: int = 0
    precision: str = "auto"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError(f"steps, batch_size and checkpoint_every must be positive: {self}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision={self.precision!r}: expected auto, bf16 or fp32")


class TrainTask(Protocol):
    """What `Trainer` needs to know about a model being trained."""

    def modules(self) -> dict[str, nn.Module]: ...

    def phases(self) -> list[str]: ...

    def parameters(self, phase: str) -> Iterable[nn.Parameter]: ...

    def dataset(self) -> Dataset: ...

    def loss(self, phase: str, batch, step: int) -> tuple[torch.Tensor, dict[str, float]] | None:
        """The loss to minimise in `phase` at `step` and figures to log, or None to skip the phase."""
        ...

    def export(self, directory: Path) -> None:
        """Write the trained model as a pretrained checkpoint into an existing folder."""
        ...


class _StepSampler(Sampler[int]):
    """Item indices for steps [start, steps): step s reads items s * batch ... s * batch + batch - 1."""

    def __init__(self, start: int, steps: int, batch_size: int):
        self.first, self.last = start * batch_size, steps * batch_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.first, self.last))

    def __len__(self) -> int:
        return self.last - self.first


def _schedule(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(config.steps - config.warmup_steps, 1)
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine

    return factor


def _to_device(batch, device: torch.device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


class Trainer:
    """Runs a TrainTask into `out`: `out/checkpoint/` (the exported model plus training state,
    replaced atomically every `checkpoint_every` steps and at the end) and `out/log.jsonl`."""

    def __init__(self, task: TrainTask, config: TrainConfig, out: str | os.PathLike, device: str | torch.device = "cpu"):
        self.task, self.config, self.out = task, config, Path(out)
        self.device = torch.device(device)
        for module in task.modules().values():
            module.to(self.device)
        self.optimizers = {
            phase: torch.optim.AdamW(
                list(task.parameters(phase)), lr=config.learning_rate, betas=config.betas, weight_decay=config.weight_decay
            )
            for phase in task.phases()
        }
        self.lr_factor = _schedule(config)
        self.step = 0
        use_bf16 = config.precision == "bf16" or (config.precision == "auto" and self.device.type == "cuda")
        self.autocast_dtype = torch.bfloat16 if use_bf16 else None

    # ------------------------------------------------------------------ checkpoints

    @property
    def checkpoint_dir(self) -> Path:
        return self.out / CHECKPOINT_DIR

    def _state(self) -> dict:
        return {
            "step": self.step,
            "config": asdict(self.config),
            "modules": {name: module.state_dict() for name, module in self.task.modules().items()},
            "optimizers": {phase: optimizer.state_dict() for phase, optimizer in self.optimizers.items()},
        }

    def save_checkpoint(self) -> Path:
        def write(folder: Path) -> None:
            self.task.export(folder)
            torch.save(self._state(), folder / STATE_FILE)

        return write_directory(self.checkpoint_dir, write)

    def resume(self) -> bool:
        """Load `out/checkpoint` if there is one; True if the run resumes from it."""
        path = self.checkpoint_dir / STATE_FILE
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        for name, module in self.task.modules().items():
            module.load_state_dict(state["modules"][name])
        for phase, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][phase])
        self.step = state["step"]
        self._trim_log()
        return True

    def _trim_log(self) -> None:
        """Drop log lines written after the checkpoint we resume from (the run repeats them)."""
        log = self.out / LOG_FILE
        if not log.is_file():
            return
        kept = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] < self.step]
        log.write_text("".join(line + "\n" for line in kept))

    # ------------------------------------------------------------------ training

    def learning_rate(self) -> float:
        """The learning rate at the current step (warm-up, then cosine decay): a function of the step."""
        return self.config.learning_rate * self.lr_factor(self.step)

    def _train_step(self, batch) -> dict[str, float]:
        figures: dict[str, float] = {"lr": self.learning_rate()}
        for phase, optimizer in self.optimizers.items():
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                result = self.task.loss(phase, batch, self.step)
            if result is None:
                continue
            loss, logged = result
            if not torch.isfinite(loss):
                raise FloatingPointError(f"step {self.step}: {phase} loss is {loss.item()}; the checkpoint keeps the last good state")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for group in optimizer.param_groups:
                group["lr"] = figures["lr"]
            if self.config.grad_clip:
                figures[f"{phase}_grad_norm"] = float(
                    torch.nn.utils.clip_grad_norm_(list(self.task.parameters(phase)), self.config.grad_clip)
                )
            optimizer.step()
            figures.update(logged)
        return figures

    def run(self, progress: bool = True, until: int | None = None) -> list[dict[str, float]]:
        """Train from where the last checkpoint left off (or from scratch) to step `until`
        (default `config.steps`; the schedule always spans `config.steps`), checkpointing there.
        Returns the figures of every step this call ran."""
        until = self.config.steps if until is None else min(until, self.config.steps)
        self.out.mkdir(parents=True, exist_ok=True)
        self.resume()
        loader = DataLoader(
            self.task.dataset(),
            batch_size=self.config.batch_size,
            sampler=_StepSampler(self.step, until, self.config.batch_size),
            num_workers=self.config.num_workers,
            drop_last=True,
        )
        history = []
        for module in self.task.modules().values():
            module.train()
        bar = tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step", disable=not progress)
        with open(self.out / LOG_FILE, "a") as log:
            for batch in loader:
                figures = self._train_step(_to_device(batch, self.device))
                history.append(figures)
                if self.step % self.config.log_every == 0 or self.step + 1 == until:
                    log.write(json.dumps({"step": self.step, **figures}) + "\n")
                    log.flush()
                    bar.set_postfix({k: f"{v:.4g}" for k, v in figures.items() if not k.endswith("grad_norm")}, refresh=False)
                self.step += 1
                bar.update()
                if self.step % self.config.checkpoint_every == 0 or self.step == until:
                    self.save_checkpoint()
        bar.close()
        return history
