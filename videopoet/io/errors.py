"""The one error type that media input raises."""

from __future__ import annotations

import os


class MediaError(ValueError):
    """A media file that cannot be used: missing, not media, truncated, no video, no frames.

    `path` is the file and `reason` says what is wrong with it; `str(error)` gives both.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
