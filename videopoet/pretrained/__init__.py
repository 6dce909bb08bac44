"""The shipped weights, trained on the Shapes World and installed with the package.

The default model: a model directory holds one checkpoint directory (config.json +
model.safetensors) per part, the tokenizers its language model was trained on among them:

    videopoet/pretrained/shapes-64/
        video_tokenizer/
        audio_tokenizer/
        lm/                 (the language model; its config records the clip size and length)

The package's video tokenizer, `videopoet/pretrained/video-tokenizer-64/` (a checkpoint
directory): the best shipped one (GPU-trained; see the README), what
`VideoTokenizer.from_pretrained()` loads, for new models and your own videos. The default
model keeps its own until its language model is retrained on this one's codes.

`scripts/` holds the commands that trained each part; `videopoet export` writes a trained
checkpoint into such a directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..checkpoint import CONFIG_FILE

SHIPPED = Path(__file__).parent
DEFAULT_MODEL = SHIPPED / "shapes-64"
VIDEO_TOKENIZER = SHIPPED / "video-tokenizer-64"


def model_part(part: str, model_dir: str | os.PathLike | None = None) -> Path:
    """The checkpoint directory of `part` (e.g. "video_tokenizer") in `model_dir`, by default
    the shipped model; FileNotFoundError naming the directory when the part is missing."""
    directory = Path(model_dir) if model_dir is not None else DEFAULT_MODEL
    path = directory / part
    if not (path / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{directory}: model directory has no {part!r} part (missing {part}/{CONFIG_FILE})")
    return path


def part_or_checkpoint(part: str, directory: str | os.PathLike | None = None) -> Path:
    """`directory` itself when it is a checkpoint directory (holds config.json), else the
    checkpoint directory of `part` in the model directory `directory` (the shipped one if None)."""
    if directory is not None and (Path(directory) / CONFIG_FILE).is_file():
        return Path(directory)
    return model_part(part, directory)
