"""A BERT encoder in plain PyTorch, for BERT-family text encoders such as all-MiniLM-L6-v2.

It reads the same files `transformers` does (config.json, model.safetensors, tokenizer.json) and
gives the same last hidden states, without importing `transformers`, which takes seconds: the
text encoder is on the cold-start path of every `videopoet generate`. Post-norm layers:

    x = embed(words) + embed(positions) + embed(token types) -> LayerNorm
    per layer: x = LayerNorm(x + attention(x)); x = LayerNorm(x + W2 gelu(W1 x))
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

FILES = ("config.json", "model.safetensors", "tokenizer.json")


@dataclass
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, values: dict) -> "BertConfig":
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})


def is_plain_bert(folder: str | os.PathLike) -> bool:
    """Whether `folder` holds a BERT encoder this module can load (absolute positions, GELU)."""
    folder = Path(folder)
    if not all((folder / name).is_file() for name in FILES):
        return False
    config = json.loads((folder / "config.json").read_text())
    return (
        config.get("model_type") == "bert"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act", "gelu") == "gelu"
    )


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        width, eps = config.hidden_size, config.layer_norm_eps
        self.heads = config.num_attention_heads
        self.query, self.key, self.value = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.attention_out, self.attention_norm = nn.Linear(width, width), nn.LayerNorm(width, eps=eps)
        self.intermediate, self.output = nn.Linear(width, config.intermediate_size), nn.Linear(config.intermediate_size, width)
        self.output_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x: (B, S, D); key_mask: (B, 1, 1, S) True at real tokens -> (B, S, D)."""
        q, k, v = (rearrange(layer(x), "b s (h k) -> b h s k", h=self.heads) for layer in (self.query, self.key, self.value))
        attended = rearrange(F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask), "b h s k -> b s (h k)")
        x = self.attention_norm(x + self.attention_out(attended))
        return self.output_norm(x + self.output(F.gelu(self.intermediate(x))))


class BertEncoder(nn.Module):
    """input_ids, attention_mask (B, S) -> last hidden states (B, S, hidden_size)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.words = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_types = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.embedding_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.words(input_ids) + self.positions(positions)[None] + self.token_types.weight[0]
        x = self.embedding_norm(x)
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        return x


# checkpoint names (transformers' BertModel) -> ours
_RENAMES = [
    (r"^embeddings\.word_embeddings\.", "words."),
    (r"^embeddings\.position_embeddings\.", "positions."),
    (r"^embeddings\.token_type_embeddings\.", "token_types."),
    (r"^embeddings\.LayerNorm\.", "embedding_norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"layers.\1.\2."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.attention_out."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attention_norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.intermediate."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.output."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.output_norm."),
]
_IGNORED = re.compile(r"^(pooler\.|embeddings\.position_ids)")


def _our_name(name: str) -> str | None:
    name = name.removeprefix("bert.")
    if _IGNORED.match(name):
        return None
    for pattern, replacement in _RENAMES:
        renamed, count = re.subn(pattern, replacement, name)
        if count:
            return renamed
    raise ValueError(f"unexpected BERT weight {name!r}")


def load_bert(folder: str | os.PathLike) -> BertEncoder:
    """The encoder stored in `folder` (config.json + model.safetensors), in eval mode."""
    from safetensors.torch import load_file

    folder = Path(folder)
    model = BertEncoder(BertConfig.from_json(json.loads((folder / "config.json").read_text())))
    state = {}
    for name, tensor in load_file(folder / "model.safetensors").items():
        ours = _our_name(name)
        if ours is not None:
            state[ours] = tensor.float()
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


class WordPieceTokenizer:
    """The folder's tokenizer.json (the `tokenizers` library): prompts -> ids with [CLS] and
    [SEP], untruncated (see `truncate`)."""

    def __init__(self, folder: str | os.PathLike):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def __call__(self, prompts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(prompts)]


SUBSET_FILE = "vocabulary_subset.json"


def write_vocabulary_subset(
    source: str | os.PathLike, of: str, captions: Iterable[str], target: str | os.PathLike, dtype: torch.dtype = torch.float16, notes: dict | None = None
) -> Path:
    """Write to `target` a copy of the BERT folder `source` (encoder `of`, by name) that keeps
    only the wordpieces `captions` tokenize to, and the special tokens.

    On those captions the copy gives `of`'s ids, remapped, and so `of`'s embeddings (exactly in
    float32; to `dtype` rounding otherwise): a greedy longest-match WordPiece over a subset of
    the vocabulary that still holds every piece of a word splits it the same way. The word
    embeddings are most of a small BERT (all-MiniLM-L6-v2: 11.7 M of 22.7 M parameters), so the
    copy is what fits where the full encoder does not (a GPU machine's 64 MiB upload).
    `target/vocabulary_subset.json` records `of`, so text embeddings made with the copy are
    recorded as `of`'s, and `notes` (which captions it was cut for). Written atomically (a
    temporary folder renamed into place)."""
    from safetensors.torch import load_file, save_file
    from tokenizers import Tokenizer

    from ..checkpoint import write_directory

    source = Path(source)
    if not is_plain_bert(source):
        raise ValueError(f"{source}: not a BERT folder this module can load ({', '.join(FILES)})")
    spec = json.loads((source / "tokenizer.json").read_text())
    if spec["model"].get("type") != "WordPiece":
        raise ValueError(f"{source}: tokenizer model {spec['model'].get('type')!r}, not WordPiece")
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    captions = list(captions)
    if not captions:
        raise ValueError("no captions: the subset would hold no wordpiece")
    used = {i for encoding in tokenizer.encode_batch(captions) for i in encoding.ids} | {token["id"] for token in spec["added_tokens"]}
    kept = sorted(used)  # [PAD] (id 0) stays 0: `pad` pads with 0
    new_id = {old: new for new, old in enumerate(kept)}
    spec["model"]["vocab"] = {piece: new_id[i] for piece, i in spec["model"]["vocab"].items() if i in new_id}
    for token in spec["added_tokens"]:
        token["id"] = new_id[token["id"]]
    for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    if spec.get("padding"):
        spec["padding"]["pad_id"] = new_id[spec["padding"]["pad_id"]]

    config = json.loads((source / "config.json").read_text())
    record = {"of": of, "wordpieces": len(kept), "of_wordpieces": config["vocab_size"], "captions": len(captions), **(notes or {})}
    config["vocab_size"] = len(kept)
    rows = torch.tensor(kept)
    weights = {}
    for name, tensor in load_file(source / "model.safetensors").items():
        tensor = tensor[rows] if _our_name(name) == "words.weight" else tensor
        weights[name] = (tensor.to(dtype) if tensor.is_floating_point() else tensor).contiguous()

    def write(folder: Path) -> None:
        (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        save_file(weights, str(folder / "model.safetensors"))
        (folder / SUBSET_FILE).write_text(json.dumps(record, indent=2))

    return write_directory(target, write)


def truncate(ids: list[int], length: int) -> list[int]:
    """At most `length` ids, keeping the last (the end marker: [SEP], or T5's </s>)."""
    return ids if len(ids) <= length else ids[: length - 1] + ids[-1:]


def pad(ids: list[list[int]], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists with 0: (input_ids, attention_mask), both (B, longest)."""
    longest = max(1, max(map(len, ids)))
    input_ids = torch.zeros(len(ids), longest, dtype=torch.long)
    for row, sequence in enumerate(ids):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    mask = torch.arange(longest)[None] < torch.tensor([len(sequence) for sequence in ids])[:, None]
    return input_ids.to(device), mask.long().to(device)

