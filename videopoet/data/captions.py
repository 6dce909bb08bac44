"""Captioned video folders: the one format every training command reads.

A folder holds video files and `captions.jsonl`, one JSON object a line with at least
`video` (the file's path relative to the folder) and `caption`. Other keys are kept as
`extra` (the Shapes World writes its split, seed and scene there).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..io.write import atomic_path

CAPTIONS_FILE = "captions.jsonl"


@dataclass
class CaptionRecord:
    """One line of captions.jsonl. `video` is relative to the folder."""

    video: str
    caption: str
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"video": self.video, "caption": self.caption, **self.extra}, ensure_ascii=False)


def _captions_path(folder: str | os.PathLike) -> Path:
    path = Path(folder)
    return path if path.suffix == ".jsonl" else path / CAPTIONS_FILE


def read_captions(folder: str | os.PathLike) -> list[CaptionRecord]:
    """Read `folder/captions.jsonl` (or the .jsonl file given). Raises ValueError naming the
    file and line for a line that is not a JSON object with string `video` and `caption`."""
    path = _captions_path(folder)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no captions file (expected {CAPTIONS_FILE} with one JSON object a line)")
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from error
            if not isinstance(row, dict) or not isinstance(row.get("video"), str) or not isinstance(row.get("caption"), str):
                raise ValueError(f"{path}:{number}: expected an object with string 'video' and 'caption'")
            video = row.pop("video")
            caption = row.pop("caption")
            records.append(CaptionRecord(video, caption, row))
    return records


def write_captions(folder: str | os.PathLike, records: Iterable[CaptionRecord]) -> Path:
    """Write `folder/captions.jsonl` atomically."""
    path = _captions_path(folder)
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record.to_json() + "\n")
    return path
