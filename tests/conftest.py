from pathlib import Path

import pytest

from videopoet.io import write_video
from videopoet.world import render_clip


@pytest.fixture(scope="session")
def world_mp4(tmp_path_factory) -> tuple[Path, object]:
    """A Shapes World clip written as mp4 with audio, and the clip it came from."""
    clip = render_clip("test", 7)
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    write_video(path, clip.video, clip.fps, audio=clip.audio)
    return path, clip
