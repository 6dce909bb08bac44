"""Token shards: a dataset tokenized once, read memory-mapped by every LM training run.

A shard folder holds `manifest.json` and one sub-folder per shard of up to `shard_size` clips:

    tokens/
      manifest.json          settings, tokenizers, shapes, and the finished shards
      shard-00000/
        video.npy            (n, t, h, w)       video codes
        audio.npy            (n, levels, frames) audio codes
        flow.npy             (n, t, h, w)       codes of the optical-flow video (stylization)
        structure.npy        (n, t, h, w)       codes of the edge-map video (stylization)
        text.npy             (n, L, E) float16  text-encoder embeddings of the caption
        text_mask.npy        (n, L) bool        which of the L text positions hold a token
        captions.jsonl       the caption (and source) of each clip

A folder may hold only some of the code fields (`settings["fields"]`, video always): token
super-resolution, for one, needs the video codes and the text alone.

Each shard is written to a temporary folder and renamed into place, and the manifest is rewritten
(atomically) after every shard, so a killed tokenizing pass resumes at the first missing shard.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..io.write import atomic_path

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
CODE_FIELDS = ("video", "audio", "flow", "structure")


@dataclass
class TokenizedClip:
    """One clip's tokens. video, flow, structure: (t, h, w); audio: (levels, frames) int64;
    text: (L, E) float; text_mask: (L,) bool. A code field the folder does not store is None."""

    video: np.ndarray
    audio: np.ndarray | None
    flow: np.ndarray | None
    structure: np.ndarray | None
    text: np.ndarray
    text_mask: np.ndarray
    caption: str
    source: dict


def _code_dtype(codebook_size: int) -> np.dtype:
    return np.dtype(np.int16) if codebook_size <= 2**15 else np.dtype(np.int32)


def check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """`fields` as stored (in CODE_FIELDS order); ValueError for unknown names or no video."""
    unknown = sorted(set(fields) - set(CODE_FIELDS))
    if unknown:
        raise ValueError(f"code fields {unknown}: unknown (known: {', '.join(CODE_FIELDS)})")
    if "video" not in fields:
        raise ValueError(f"code fields {list(fields)}: the video codes are always stored; add video")
    return tuple(name for name in CODE_FIELDS if name in fields)


def _read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _write_manifest(folder: Path, manifest: dict) -> None:
    with atomic_path(folder / MANIFEST) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")


def write_token_shards(
    out: str | os.PathLike,
    count: int,
    tokenize: Callable[[Sequence[int]], list[TokenizedClip]],
    settings: dict,
    shard_size: int = 256,
    batch_size: int = 8,
    progress: bool = True,
) -> Path:
    """Tokenize clips 0 .. count-1 into shards under `out`. `tokenize(indices)` returns those
    clips' tokens; `settings` (the source, tokenizers, text encoder, vocabulary sizes) is
    stored in the manifest and must match when resuming an unfinished folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(settings))  # as the manifest stores it (tuples become lists)
    manifest = _read_manifest(folder)
    if manifest is not None:
        found = {**manifest["settings"], "count": manifest["count"], "shard_size": manifest["shard_size"]}
        wanted = {**settings, "count": count, "shard_size": shard_size}
        differing = sorted(key for key in found.keys() | wanted.keys() if found.get(key) != wanted.get(key))
        if differing:
            raise ValueError(
                f"{folder}: holds token shards made with other settings ({', '.join(f'{key}: {found.get(key)} there, {wanted.get(key)} now' for key in differing)}); "
                "give an empty folder, or the same command to resume"
            )
    else:
        manifest = {"format": FORMAT_VERSION, "settings": settings, "count": count, "shard_size": shard_size, "shards": []}
        _write_manifest(folder, manifest)
    done = {shard["name"] for shard in manifest["shards"]}
    shards = [(number, range(start, min(start + shard_size, count))) for number, start in enumerate(range(0, count, shard_size))]
    bar = tqdm(total=count, desc="tokenize", unit="clip", disable=not progress)
    bar.update(sum(len(indices) for number, indices in shards if f"shard-{number:05d}" in done))
    for number, indices in shards:
        name = f"shard-{number:05d}"
        if name in done:
            continue
        clips: list[TokenizedClip] = []
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            clips.extend(tokenize(list(batch)))
            bar.update(len(batch))
        _write_shard(folder / name, clips, settings)
        manifest["shards"].append({"name": name, "count": len(clips)})
        _write_manifest(folder, manifest)
    bar.close()
    return folder


def _write_shard(target: Path, clips: list[TokenizedClip], settings: dict) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name in settings.get("fields", CODE_FIELDS):
            size = settings["audio_codes"] if name == "audio" else settings["video_codes"]
            np.save(staging / f"{name}.npy", np.stack([getattr(clip, name) for clip in clips]).astype(_code_dtype(size)))
        np.save(staging / "text.npy", np.stack([clip.text for clip in clips]).astype(np.float16))
        np.save(staging / "text_mask.npy", np.stack([clip.text_mask for clip in clips]).astype(bool))
        with open(staging / "captions.jsonl", "w", encoding="utf-8") as handle:
            for clip in clips:
                handle.write(json.dumps({"caption": clip.caption, **clip.source}, ensure_ascii=False) + "\n")
        if target.exists():  # a shard left by a run killed before its manifest entry: redo it
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


class TokenShards:
    """The finished shards of a folder, memory-mapped. `field(i, name)` returns clip i's tokens
    as a tensor; `settings` is the manifest's (tokenizers, text encoder, vocabulary sizes);
    `captions[i]` and `sources[i]` say what clip i is."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        manifest = _read_manifest(self.folder)
        if manifest is None:
            raise FileNotFoundError(f"{self.folder}: no {MANIFEST}; make token shards with `videopoet tokenize`")
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{self.folder}: token shard format {manifest.get('format')}, this version reads {FORMAT_VERSION}")
        self.settings = manifest["settings"]
        self.fields = check_fields(self.settings.get("fields", CODE_FIELDS))
        self.complete = sum(shard["count"] for shard in manifest["shards"]) == manifest["count"]
        self.arrays: list[dict[str, np.ndarray]] = []
        self.captions: list[str] = []
        self.sources: list[dict] = []  # where each clip came from: {"split", "seed"} or {"video"}
        for shard in manifest["shards"]:
            path = self.folder / shard["name"]
            self.arrays.append({name: np.load(path / f"{name}.npy", mmap_mode="r") for name in (*self.fields, "text", "text_mask")})
            with open(path / "captions.jsonl", encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle if line.strip()]
            self.captions.extend(record.pop("caption") for record in records)
            self.sources.extend(records)
        self.offsets = np.cumsum([0] + [shard["count"] for shard in manifest["shards"]])
        if not len(self):
            raise ValueError(f"{self.folder}: no finished shard yet")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _locate(self, index: int) -> tuple[dict[str, np.ndarray], int]:
        if not 0 <= index < len(self):
            raise IndexError(f"clip {index} of {len(self)}")
        shard = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.arrays[shard], index - int(self.offsets[shard])

    def require(self, fields: Sequence[str], purpose: str) -> None:
        """ValueError unless the folder stores every code field in `fields`."""
        missing = [name for name in fields if name not in self.fields]
        if missing:
            raise ValueError(f"{self.folder}: {purpose} needs the {', '.join(missing)} codes; this folder holds {', '.join(self.fields)} only (tokenize it again with --fields {','.join(CODE_FIELDS)})")

    def field(self, index: int, name: str) -> torch.Tensor:
        if name in CODE_FIELDS:
            self.require((name,), f"reading {name}")
        arrays, row = self._locate(index)
        value = np.asarray(arrays[name][row])
        if name in CODE_FIELDS:
            return torch.from_numpy(value.astype(np.int64))
        return torch.from_numpy(value.astype(np.float32) if name == "text" else value.copy())
