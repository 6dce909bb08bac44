"""Training the language model on token shards: a weighted task mixture, condition dropout for
guidance, loss on outputs only, validation loss per task beside a unigram baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..checkpoint import save_model_files
from ..data.shards import CODE_FIELDS, TokenShards
from ..lm.model import CHECKPOINT_KIND, VideoPoetLM
from ..lm.sequences import SequenceBatch, TokenSequence, build_sequence, collate, drop_condition
from ..lm.tasks import ClipTokens, make_example
from ..lm.vocabulary import TASKS, Vocabulary


def parse_mixture(text: str) -> dict[str, float]:
    """"all" (every task, equal weights) or "task=weight,task=weight" -> {task: weight}."""
    if text.strip() == "all":
        return {task: 1.0 for task in TASKS}
    mixture = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in TASKS:
            raise ValueError(f"task mixture {text!r}: unknown task {name!r}; tasks: {', '.join(TASKS)}")
        try:
            mixture[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"task mixture {text!r}: weight of {name} is not a number") from None
        if mixture[name] <= 0:
            raise ValueError(f"task mixture {text!r}: weight of {name} must be positive")
    return mixture


def vocabulary_of(shards: TokenShards) -> Vocabulary:
    """The LM's vocabulary for `shards`; ValueError unless they hold every code field the tasks use."""
    shards.require(CODE_FIELDS, "the LM's task mixture")
    settings = shards.settings
    return Vocabulary(settings["video_codes"], settings["audio_codes"], settings["audio_levels"])


def longest_sequence(shards: TokenShards, tasks: Sequence[str]) -> int:
    """The length of the longest sequence the tasks make from the shards' clips (all clips of
    a shard folder share their shapes, and a task's length depends on the shapes only)."""
    clip, vocab, text_length = clip_tokens(shards, 0), vocabulary_of(shards), shards.settings["text_length"]
    return max(len(build_sequence(vocab, make_example(task, clip, np.random.default_rng(0)), text_length)) for task in tasks)


def clip_tokens(shards: TokenShards, index: int) -> ClipTokens:
    return ClipTokens(*(shards.field(index, name) for name in ("video", "audio", "flow", "structure")))


@dataclass
class LMItem:
    sequence: TokenSequence
    text: torch.Tensor  # (L, E)
    text_mask: torch.Tensor  # (L,)
    drop: bool  # train this example without its condition (for guidance)


class TaskMixtureExamples(Dataset):
    """Item i: a training example of a task drawn from `mixture` with (seed, i // group), so
    each run of `group` consecutive items shares a task and a batch needs no padding; its clip,
    its random cuts and whether its condition is dropped come from (seed, i)."""

    def __init__(self, shards: TokenShards, mixture: dict[str, float], condition_dropout: float = 0.1, seed: int = 0, group: int = 1, length: int = 2**40):
        if not 0 <= condition_dropout < 1:
            raise ValueError(f"condition_dropout={condition_dropout}: must be in [0, 1)")
        self.shards, self.vocab = shards, vocabulary_of(shards)
        self.tasks = list(mixture)
        weights = np.array([mixture[task] for task in self.tasks], dtype=np.float64)
        self.probabilities = weights / weights.sum()
        self.condition_dropout, self.seed, self.group, self.length = condition_dropout, seed, group, length
        self.text_length = shards.settings["text_length"]

    def __len__(self) -> int:
        return self.length

    def task_of(self, index: int) -> str:
        rng = np.random.default_rng([self.seed, 1, index // self.group])
        return self.tasks[int(rng.choice(len(self.tasks), p=self.probabilities))]

    def __getitem__(self, index: int) -> LMItem:
        rng = np.random.default_rng([self.seed, 2, index])
        clip = int(rng.integers(len(self.shards)))
        example = make_example(self.task_of(index), clip_tokens(self.shards, clip), rng)
        return LMItem(
            build_sequence(self.vocab, example, self.text_length),
            self.shards.field(clip, "text"),
            self.shards.field(clip, "text_mask"),
            bool(rng.random() < self.condition_dropout),
        )


def collate_items(vocab: Vocabulary, items: Sequence[LMItem]) -> tuple[SequenceBatch, torch.Tensor]:
    """-> (batch, drop (B,) bool)."""
    batch = collate(vocab, [item.sequence for item in items], torch.stack([item.text for item in items]), torch.stack([item.text_mask for item in items]))
    return batch, torch.tensor([item.drop for item in items])


def output_loss(model: Callable, batch: SequenceBatch, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the outputs: position s's logits predict token s + 1 where it is an
    output, over that position's legal range only (the distribution sampling draws from, so a
    forced end marker costs nothing). reduction "mean" (over output tokens) or "sum"."""
    targets = batch.loss_mask[:, 1:]
    predicting = F.pad(targets, (0, 1))  # position s predicts s + 1
    logits = model(batch.tokens, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text, positions=predicting).float()  # (N, V)
    vocabulary = torch.arange(logits.shape[-1], device=logits.device)
    low, high = batch.legal_low[:, 1:][targets, None], batch.legal_high[:, 1:][targets, None]
    logits = logits.masked_fill((vocabulary < low) | (vocabulary >= high), float("-inf"))
    return F.cross_entropy(logits, batch.tokens[:, 1:][targets], reduction=reduction)


class LMTask:
    """The TrainTask of the language model (see train.loop)."""

    def __init__(self, model: VideoPoetLM, data: TaskMixtureExamples, validation: "TaskValidation | None" = None):
        self.model, self.data, self.validation = model, data, validation
        self.forward_model: nn.Module = model

    def modules(self) -> dict[str, nn.Module]:
        return {"lm": self.model}

    def phases(self) -> list[str]:
        return ["lm"]

    def parameters(self, phase: str):
        return self.model.parameters()

    def dataset(self) -> Dataset:
        return self.data

    def collate(self, items: Sequence[LMItem]):
        return collate_items(self.model.config.vocabulary, items)

    def distribute(self, wrap) -> None:
        self.forward_model = wrap(self.model)

    def loss(self, phase: str, batch, step: int):
        batch, drop = batch
        if bool(drop.any()):
            batch = drop_condition(self.model.config.vocabulary, batch, drop)
        loss = output_loss(self.forward_model, batch)
        return loss, {"loss": float(loss.detach())}

    def validate(self) -> dict[str, float]:
        return {f"val_{task}": value for task, value in self.validation.losses(self.model).items()} if self.validation else {}

    def export(self, directory: Path, states: dict[str, dict] | None = None) -> None:
        """Write the model; `states` holds its full state dict when the model is sharded (FSDP)."""
        save_model_files(directory, self.model, CHECKPOINT_KIND, self.model.config.to_dict(), state=states["lm"] if states else None)


class TaskValidation:
    """A fixed set of validation examples per task (no condition dropout), for the LM's loss
    per task and the unigram baseline's."""

    def __init__(self, shards: TokenShards, tasks: Sequence[str], examples_per_task: int = 32, batch_size: int = 8, seed: int = 0):
        self.vocab, self.batch_size = vocabulary_of(shards), batch_size
        text_length = shards.settings["text_length"]
        self.examples: dict[str, list[LMItem]] = {}
        for task in tasks:
            rng = np.random.default_rng([seed, TASKS.index(task)])
            items = []
            for number in range(examples_per_task):
                clip = number % len(shards)
                example = make_example(task, clip_tokens(shards, clip), rng)
                items.append(LMItem(build_sequence(self.vocab, example, text_length), shards.field(clip, "text"), shards.field(clip, "text_mask"), False))
            self.examples[task] = items

    def batches(self, task: str):
        items = self.examples[task]
        for start in range(0, len(items), self.batch_size):
            yield collate_items(self.vocab, items[start : start + self.batch_size])[0]

    @torch.no_grad()
    def losses(self, model: VideoPoetLM) -> dict[str, float]:
        """Mean cross-entropy (nats per output token) of `model` on each task's examples."""
        device = next(model.parameters()).device
        result = {}
        for task in self.examples:
            total, count = 0.0, 0
            for batch in self.batches(task):
                batch = batch.to(device)
                total += float(output_loss(model, batch, reduction="sum"))
                count += int(batch.loss_mask[:, 1:].sum())
            result[task] = total / count
        return result

    def unigram_losses(self, unigram: "Unigram") -> dict[str, float]:
        """The same figure for the unigram baseline."""
        result = {}
        for task, items in self.examples.items():
            costs = [unigram.cost(item.sequence) for item in items]
            result[task] = sum(total for total, _ in costs) / sum(count for _, count in costs)
        return result


class Unigram:
    """The unigram baseline: each output token's probability is its frequency among the training
    clips' codes of its kind (video codes; each audio level's codes), add-half smoothed, within
    its legal range; forced tokens (end markers) cost nothing."""

    def __init__(self, shards: TokenShards, clips: int | None = None):
        self.vocab = vocabulary_of(shards)
        counts = torch.full((self.vocab.size,), 0.5, dtype=torch.float64)
        for index in range(min(clips or len(shards), len(shards))):
            counts += torch.bincount(self.vocab.video_tokens(shards.field(index, "video")).reshape(-1), minlength=self.vocab.size)
            counts += torch.bincount(self.vocab.audio_tokens(shards.field(index, "audio")).reshape(-1), minlength=self.vocab.size)
        log_probability = torch.zeros(self.vocab.size, dtype=torch.float64)
        for low, high in [self.vocab.video_range()] + [self.vocab.audio_range(level) for level in range(self.vocab.audio_levels)]:
            log_probability[low:high] = (counts[low:high] / counts[low:high].sum()).log()
        self.log_probability = log_probability

    def cost(self, sequence: TokenSequence) -> tuple[float, int]:
        """(sum of -log p over the sequence's outputs, number of outputs)."""
        outputs = sequence.loss_mask.clone()
        outputs[0] = False
        free = (sequence.legal_high - sequence.legal_low) > 1
        total = -float(self.log_probability[sequence.tokens[outputs & free]].sum())
        return total, int(outputs.sum())
