"""The one training loop every model uses.

A `TrainTask` says what to train: its modules, its phases (each phase is one loss with its own
optimizer: a GAN has a generator and a discriminator phase), a map-style dataset whose item i
is a pure function of i (so the data at any step is known without replaying the run), and how
to export the trained model. `Trainer` does the rest: AdamW with warm-up and cosine decay per
phase, gradient clipping, bf16 autocast on CUDA, a progress bar, `log.jsonl`, and atomic
checkpoints from which a killed run resumes exactly where the last one left it.

Several processes (`torchrun --nproc-per-node N videopoet train ...`): each process reads its
own part of every step's batch (`batch_size` items each, so the global batch is N times that),
gradients are averaged across processes (through DDP for a task that offers `distribute`, by an
all-reduce otherwise), and process 0 alone logs and writes checkpoints. NCCL on CUDA, gloo on CPU.
With `fsdp`, a task's single module is sharded across the processes instead (FSDP2: each of its
`fsdp_units` submodules, then the rest), for models that do not fit one device; checkpoints
still hold full weights (they load anywhere), and the training state resumes under FSDP with
any number of processes.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
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
    accumulation: int = 1
    validate_every: int = 0
    fsdp: bool = False

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError(f"steps, batch_size and checkpoint_every must be positive: {self}")
        if self.accumulation < 1 or self.batch_size % self.accumulation:
            raise ValueError(f"accumulation={self.accumulation}: must be positive and divide batch_size={self.batch_size}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision={self.precision!r}: expected auto, bf16 or fp32")


class TrainTask(Protocol):
    """What `Trainer` needs to know about a model being trained. Optional methods:
    `collate(items) -> batch` (default: torch's), `validate() -> figures` (run every
    `validate_every` steps on process 0 and logged), `distribute(wrap)` (replace the module used
    in `loss` by `wrap(module)`, a DDP wrapper, when several processes train), `lr_scale(phase)
    -> float` (that phase's learning rate as a multiple of the schedule's; default 1)."""

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
    """Item indices of process `rank` of `world` for steps [start, steps): at step s it reads
    items (s * world + rank) * batch ... + batch - 1, so one process with world * batch items a
    step reads exactly what `world` processes read together."""

    def __init__(self, start: int, steps: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.steps, self.batch_size, self.rank, self.world = start, steps, batch_size, rank, world

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start, self.steps):
            first = (step * self.world + self.rank) * self.batch_size
            yield from range(first, first + self.batch_size)

    def __len__(self) -> int:
        return (self.steps - self.start) * self.batch_size


def _chunk(batch, parts: int, index: int):
    """Part `index` of `parts` of a batch (tensors, dicts, lists, tuples or objects of tensors) along dim 0."""
    if parts == 1:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.chunk(parts)[index]
    if isinstance(batch, dict):
        return {key: _chunk(value, parts, index) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_chunk(value, parts, index) for value in batch)
    if hasattr(batch, "__dataclass_fields__"):
        return type(batch)(**{key: _chunk(value, parts, index) for key, value in vars(batch).items()})
    return batch


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
    if hasattr(batch, "__dataclass_fields__"):
        return type(batch)(**{key: _to_device(value, device) for key, value in vars(batch).items()})
    return batch


def _leave_process_group() -> None:
    """Destroy the process group before the interpreter exits: a gloo group left to die with the
    process can abort a rank at shutdown ("terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _process_group(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave_process_group)  # the group we joined is left cleanly at exit
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def _fully_shard(module: nn.Module) -> nn.Module:
    """Shard `module` in place with FSDP2: each of its `fsdp_units` submodules, then the root."""
    from torch.distributed.fsdp import fully_shard

    units = tuple(getattr(module, "fsdp_units", ()))
    for submodule in list(module.modules())[1:]:
        if units and isinstance(submodule, units):
            fully_shard(submodule)
    return fully_shard(module)


def _full_options(**options):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **options)


class Trainer:
    """Runs a TrainTask into `out`: `out/checkpoint/` (the exported model plus training state,
    replaced atomically every `checkpoint_every` steps and at the end) and `out/log.jsonl`."""

    def __init__(self, task: TrainTask, config: TrainConfig, out: str | os.PathLike, device: str | torch.device = "cpu"):
        self.task, self.config, self.out = task, config, Path(out)
        self.rank, self.world, self.device = _process_group(torch.device(device))
        for module in task.modules().values():
            module.to(self.device)
        self._manual_all_reduce = False
        self.sharded = config.fsdp and self.world > 1
        if config.fsdp and (not hasattr(task, "distribute") or len(task.modules()) != 1 or len(task.phases()) != 1):
            raise ValueError("fsdp shards a task with one module, one phase and a `distribute` method (the language model)")
        if self.world > 1:
            if self.sharded:
                task.distribute(_fully_shard)
            elif hasattr(task, "distribute"):
                ids = [self.device.index] if self.device.type == "cuda" else None
                task.distribute(lambda module: DistributedDataParallel(module, device_ids=ids))
            else:
                self._manual_all_reduce = True
                for module in task.modules().values():  # every process starts from process 0's weights
                    for tensor in module.state_dict().values():
                        dist.broadcast(tensor, 0)
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
        """The training state; with FSDP, gathered into full tensors (every process must call it)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

            (name, module), (phase, optimizer) = next(iter(self.task.modules().items())), next(iter(self.optimizers.items()))
            options = _full_options(cpu_offload=True)
            modules = {name: get_model_state_dict(module, options=options)}
            optimizers = {phase: get_optimizer_state_dict(module, optimizer, options=options)}
        else:
            modules = {name: module.state_dict() for name, module in self.task.modules().items()}
            optimizers = {phase: optimizer.state_dict() for phase, optimizer in self.optimizers.items()}
        return {"step": self.step, "config": asdict(self.config), "modules": modules, "optimizers": optimizers}

    def save_checkpoint(self) -> Path:
        state = self._state() if self.sharded or self.rank == 0 else None

        def write(folder: Path) -> None:
            if self.sharded:
                self.task.export(folder, state["modules"])
            else:
                self.task.export(folder)
            torch.save(state, folder / STATE_FILE)

        if self.rank == 0:
            write_directory(self.checkpoint_dir, write)
        if self.world > 1:
            dist.barrier()
        return self.checkpoint_dir

    def resume(self) -> bool:
        """Load `out/checkpoint` if there is one; True if the run resumes from it."""
        path = self.checkpoint_dir / STATE_FILE
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

            (name, module), (phase, optimizer) = next(iter(self.task.modules().items())), next(iter(self.optimizers.items()))
            set_model_state_dict(module, state["modules"][name], options=_full_options())
            set_optimizer_state_dict(module, optimizer, state["optimizers"][phase], options=_full_options())
        else:
            for name, module in self.task.modules().items():
                module.load_state_dict(state["modules"][name])
            for phase, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][phase])
        self.step = state["step"]
        if self.rank == 0:
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

    def _phase_gradients(self, phase: str, batch) -> dict[str, float] | None:
        """Accumulate `phase`'s gradients over the micro-batches; the averaged figures, or None."""
        parts = self.config.accumulation
        totals: dict[str, float] = {}
        for index in range(parts):
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                result = self.task.loss(phase, _chunk(batch, parts, index), self.step)
            if result is None:
                return None
            loss, logged = result
            if not torch.isfinite(loss):
                raise FloatingPointError(f"step {self.step}: {phase} loss is {loss.item()}; the checkpoint keeps the last good state")
            (loss / parts).backward()
            for key, value in logged.items():
                totals[key] = totals.get(key, 0.0) + value / parts
        if self._manual_all_reduce:
            for parameter in self.task.parameters(phase):
                if parameter.grad is not None:
                    dist.all_reduce(parameter.grad)
                    parameter.grad /= self.world
        return totals

    def _average_figures(self, figures: dict[str, float]) -> dict[str, float]:
        """The figures averaged over processes (each logs the mean of the global batch)."""
        if self.world == 1:
            return figures
        keys = sorted(figures)
        values = torch.tensor([figures[key] for key in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return {key: float(value) / self.world for key, value in zip(keys, values)}

    def _train_step(self, batch) -> dict[str, float]:
        figures: dict[str, float] = {"lr": self.learning_rate()}
        for phase, optimizer in self.optimizers.items():
            optimizer.zero_grad(set_to_none=True)
            logged = self._phase_gradients(phase, batch)
            if logged is None:
                continue
            scale = self.task.lr_scale(phase) if hasattr(self.task, "lr_scale") else 1.0
            for group in optimizer.param_groups:
                group["lr"] = figures["lr"] * scale
            if self.config.grad_clip:
                norm = torch.nn.utils.clip_grad_norm_(list(self.task.parameters(phase)), self.config.grad_clip)
                figures[f"{phase}_grad_norm"] = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
            optimizer.step()
            figures.update(logged)
        return self._average_figures(figures)

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
            sampler=_StepSampler(self.step, until, self.config.batch_size, self.rank, self.world),
            num_workers=self.config.num_workers,
            collate_fn=getattr(self.task, "collate", None),
            drop_last=True,
        )
        history = []
        for module in self.task.modules().values():
            module.train()
        lead = self.rank == 0
        bar = tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step", disable=not (progress and lead))
        started = time.monotonic()
        with open(self.out / LOG_FILE, "a") if lead else open(os.devnull, "w") as log:
            for batch in loader:
                figures = self._train_step(_to_device(batch, self.device))
                history.append(figures)
                if self.step % self.config.log_every == 0 or self.step + 1 == until:
                    log.write(json.dumps({"step": self.step, "seconds": round(time.monotonic() - started, 3), **figures}) + "\n")
                    log.flush()
                    bar.set_postfix({k: f"{v:.4g}" for k, v in figures.items() if not k.endswith("grad_norm")}, refresh=False)
                self.step += 1
                bar.update()
                if self._validation_due(until) and lead:
                    log.write(json.dumps({"step": self.step - 1, **self.validate()}) + "\n")
                    log.flush()
                if self.step % self.config.checkpoint_every == 0 or self.step == until:
                    self.save_checkpoint()
        bar.close()
        return history

    def _validation_due(self, until: int) -> bool:
        every = self.config.validate_every
        return bool(every) and hasattr(self.task, "validate") and (self.step % every == 0 or self.step == until)

    def validate(self) -> dict[str, float]:
        """The task's validation figures, with its modules in eval mode meanwhile."""
        modules = list(self.task.modules().values())
        for module in modules:
            module.eval()
        try:
            with torch.no_grad(), torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                return self.task.validate()
        finally:
            for module in modules:
                module.train()
