"""Walking a folder of media files: good files are yielded, bad ones skipped and reported."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MediaError
from .read import Media, read_video

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".flv", ".ts", ".y4m"})
# files that may carry sound: audio formats and every video container
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac"}) | (VIDEO_SUFFIXES - {".gif", ".y4m"})


@dataclass
class WalkReport:
    """What a walk found: paths it read and (path, reason) for each file it skipped."""

    read: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.read)} read, {len(self.skipped)} skipped"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def find_media(root: str | os.PathLike, suffixes: Iterable[str] = VIDEO_SUFFIXES) -> list[Path]:
    """Every file under `root` (recursively, sorted) whose suffix is one of `suffixes`."""
    root = Path(root)
    if not root.is_dir():
        raise MediaError(root, "is not a directory")
    wanted = {suffix.lower() for suffix in suffixes}
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix.lower() in wanted)


def walk_media(
    paths: Iterable[str | os.PathLike], report: WalkReport | None = None, **read_options
) -> Iterator[tuple[Path, Media]]:
    """Read each path with `read_video(**read_options)`; yield (path, media) for the good ones.

    A file that raises MediaError is logged, recorded in `report.skipped` and skipped; every
    other file is yielded, so one bad file never costs a good one.
    """
    report = report if report is not None else WalkReport()
    for path in paths:
        path = Path(path)
        try:
            media = read_video(path, **read_options)
        except MediaError as error:
            logger.warning("skipping %s", error)
            report.skipped.append((str(path), error.reason))
            continue
        report.read.append(str(path))
        yield path, media
