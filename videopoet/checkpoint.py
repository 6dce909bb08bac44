"""Checkpoint directories: `config.json` plus `model.safetensors`, written atomically.

A directory is written under a temporary name beside its target and renamed into place, so a
reader never sees a half-written checkpoint and a crash never corrupts the previous one.
Training checkpoints add `training_state.pt` (optimizers, schedules, step) beside the weights.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .io.write import current_umask

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def write_directory(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(folder)` on a fresh temporary folder, then put it in place of `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(staging)
        give_usual_modes(staging)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / "checkpoint")
            os.replace(staging, target)
            shutil.rmtree(retired)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def give_usual_modes(folder: Path) -> None:
    """Give `folder` and the files in it the modes a plain mkdir/open would (mkdtemp makes 0700
    and some writers 0600), so a shipped or shared checkpoint is readable by others."""
    mask = current_umask()
    os.chmod(folder, 0o777 & ~mask)
    for path in folder.iterdir():
        if path.is_file():
            os.chmod(path, 0o666 & ~mask)


def save_model_files(folder: Path, model: nn.Module, kind: str, config: dict, state: dict[str, torch.Tensor] | None = None) -> None:
    """Write config.json ({"kind", "config"}) and model.safetensors into an existing folder;
    `state` replaces model.state_dict() (a sharded model's gathered weights)."""
    (folder / CONFIG_FILE).write_text(json.dumps({"kind": kind, "config": config}, indent=2) + "\n")
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in (state if state is not None else model.state_dict()).items()}
    save_file(state, str(folder / WEIGHTS_FILE))


def save_pretrained(directory: str | os.PathLike, model: nn.Module, kind: str, config: dict) -> Path:
    """Write a checkpoint directory for `model` atomically."""
    return write_directory(directory, lambda folder: save_model_files(folder, model, kind, config))


def _require_model_files(directory: Path) -> None:
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory}: not a checkpoint directory (missing {name})")


def export_checkpoint(source: str | os.PathLike, target: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
    """Copy the model files of checkpoint directory `source` (any kind) to `target`, atomically,
    leaving out the training state; floating-point weights are stored as `dtype` when given
    (float16 halves the size of shipped weights; loading casts them back to the model's dtype)."""
    source = Path(source)
    _require_model_files(source)
    state = load_file(str(source / WEIGHTS_FILE))
    if dtype is not None:
        state = {name: tensor.to(dtype) if tensor.is_floating_point() else tensor for name, tensor in state.items()}

    def write(folder: Path) -> None:
        shutil.copyfile(source / CONFIG_FILE, folder / CONFIG_FILE)
        save_file(state, str(folder / WEIGHTS_FILE))

    return write_directory(target, write)


def load_pretrained(directory: str | os.PathLike, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read (config, state dict) from a checkpoint directory; ValueError naming what is wrong."""
    directory = Path(directory)
    _require_model_files(directory)
    meta = json.loads((directory / CONFIG_FILE).read_text())
    if meta.get("kind") != kind:
        raise ValueError(f"{directory}: holds a {meta.get('kind')!r} checkpoint, not a {kind!r} one")
    return meta["config"], load_file(str(directory / WEIGHTS_FILE))
