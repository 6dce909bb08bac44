"""Synthetic speech for the audio tokenizer: random English sentences spoken by espeak-ng
(Debian package `espeak-ng`) in varied voices, speeds and pitches, written as wav files.

Utterance i of a split is a pure function of (split, seed, i), so a folder can be extended or
rebuilt exactly; the train and test splits draw from different random streams.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

ESPEAK = "espeak-ng"
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
SPLIT_STREAMS = {"train": 0, "test": 1}

_SUBJECTS = "the cat|a small dog|my brother|the old man|her friend|the teacher|a red bird|the children|our neighbour|the pilot".split("|")
_VERBS = "sees|finds|carries|paints|follows|watches|builds|opens|throws|remembers|counts|draws".split("|")
_OBJECTS = (
    "a blue square|the green ball|seven apples|the heavy box|a yellow kite|the open window|"
    "two purple circles|a long letter|the broken clock|an orange triangle|the quiet river|a white boat"
).split("|")
_ENDINGS = "|every morning|in the garden|before dinner|near the station|without a sound|on Tuesday|very slowly|again and again".split("|")


@dataclass(frozen=True)
class Utterance:
    """What espeak-ng is asked to say and how."""

    text: str
    voice: str
    words_per_minute: int
    pitch: int


def make_utterance(split: str, seed: int, index: int) -> Utterance:
    """Utterance `index` of `split`: one to three random sentences in a random voice."""
    if split not in SPLIT_STREAMS:
        raise ValueError(f"split={split!r}: expected one of {sorted(SPLIT_STREAMS)}")
    rng = np.random.default_rng([SPLIT_STREAMS[split], seed, index])
    sentences = []
    for _ in range(int(rng.integers(1, 4))):
        words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_ENDINGS)]
        sentences.append(" ".join(word for word in words if word).capitalize() + ".")
    voice = f"{rng.choice(ACCENTS)}+{rng.choice(VARIANTS)}"
    return Utterance(" ".join(sentences), voice, int(rng.integers(120, 201)), int(rng.integers(20, 81)))


def require_espeak() -> str:
    """The espeak-ng executable, or RuntimeError saying how to install it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise RuntimeError(f"{ESPEAK} is not installed; it makes the synthetic speech (Debian: apt-get install {ESPEAK})")
    return path


def speak(utterance: Utterance, path: str | os.PathLike) -> Path:
    """Write `utterance` as a wav file (espeak-ng's 22.05 kHz mono), atomically."""
    executable = require_espeak()
    path = Path(path)
    handle, temporary = tempfile.mkstemp(suffix=".wav", dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        command = [executable, "-v", utterance.voice, "-s", str(utterance.words_per_minute), "-p", str(utterance.pitch)]
        subprocess.run(command + ["-w", temporary, utterance.text], check=True, capture_output=True)
        os.replace(temporary, path)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{ESPEAK} failed on {utterance}: {error.stderr.decode(errors='replace').strip()}") from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def synthesize_speech(out: str | os.PathLike, count: int, split: str = "train", seed: int = 0, progress: bool = True) -> list[Path]:
    """Write utterances 0..count-1 of `split` to `out/speech-<split>-<i>.wav` (files already
    there are kept: an interrupted run resumes) and `out/speech-<split>.tsv` (file, voice, text)."""
    if count < 1:
        raise ValueError(f"count={count}: must be at least 1")
    require_espeak()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths, rows = [], []
    for index in tqdm(range(count), desc=f"speech {split}", unit="file", disable=not progress):
        utterance = make_utterance(split, seed, index)
        path = out / f"speech-{split}-{index:05d}.wav"
        if not path.is_file():
            speak(utterance, path)
        paths.append(path)
        rows.append(f"{path.name}\t{utterance.voice}\t{utterance.text}\n")
    index_file = out / f"speech-{split}.tsv"
    temporary = index_file.with_name(f".{index_file.name}.tmp")
    temporary.write_text("".join(rows))
    os.replace(temporary, index_file)
    return paths
