"""Writing Shapes World datasets to disk: mp4 clips with audio plus captions.jsonl."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from ..data.captions import CaptionRecord, write_captions
from ..io.write import atomic_path, write_video
from .render import render_clip
from .spec import DEFAULT_FRAMES, DEFAULT_SIZE, FPS, SAMPLE_RATE, check_render_size, check_split

SYNTH_FILE = "synth.json"


@dataclass(frozen=True)
class SynthSpec:
    """What a synthesized folder holds: clips (split, seed) for seed in [seed_start, seed_start + n)."""

    split: str
    n: int
    size: int = DEFAULT_SIZE
    frames: int = DEFAULT_FRAMES
    seed_start: int = 0

    def clip_name(self, seed: int) -> str:
        return f"clips/{self.split}-{seed:07d}.mp4"


def _check_folder(out: Path, spec: SynthSpec) -> None:
    """Refuse to mix clips of different splits, sizes, lengths or seed ranges in one folder; a
    folder made with the same settings (any n) is resumed: clips already written are kept."""
    marker = out / SYNTH_FILE
    if not marker.exists():
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out}: folder is not empty and holds no {SYNTH_FILE}; choose a new --out")
        return
    previous = json.loads(marker.read_text())
    for key in ("split", "size", "frames", "seed_start"):
        if previous.get(key) != getattr(spec, key):
            raise FileExistsError(f"{out}: holds a synthesis with {key}={previous.get(key)!r}, not {getattr(spec, key)!r}; choose a new --out")


def _make_clip(job: tuple[SynthSpec, int, str]) -> dict:
    spec, seed, out = job
    name = spec.clip_name(seed)
    clip = render_clip(spec.split, seed, spec.size, spec.frames)
    target = Path(out) / name
    if not target.exists():
        write_video(target, clip.video, FPS, audio=clip.audio, sample_rate=SAMPLE_RATE, preset="veryfast")
    description = clip.scene.description
    return {
        "video": name,
        "caption": clip.caption,
        "canonical_caption": clip.canonical_caption,
        "split": spec.split,
        "seed": seed,
        "camera": description.camera,
        "objects": [asdict(obj) for obj in description.objects],
    }


def synthesize(
    out: str | os.PathLike,
    split: str,
    n: int,
    size: int = DEFAULT_SIZE,
    frames: int = DEFAULT_FRAMES,
    seed_start: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Render clips (split, seed_start ... seed_start + n - 1) into `out`; return captions.jsonl's path.

    Each mp4 is written atomically and the captions file last, so an interrupted run leaves
    only whole clips behind; running the same command again resumes it.
    """
    check_split(split)
    check_render_size(size, frames)
    if n < 1:
        raise ValueError(f"n={n!r}: must be at least 1")
    if seed_start < 0:
        raise ValueError(f"seed_start={seed_start!r}: must be non-negative")
    spec = SynthSpec(split, n, size, frames, seed_start)
    out = Path(out)
    _check_folder(out, spec)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    with atomic_path(out / SYNTH_FILE) as temporary:
        temporary.write_text(json.dumps({**asdict(spec), "fps": FPS, "sample_rate": SAMPLE_RATE}, indent=2))
    jobs = [(spec, seed, str(out)) for seed in range(seed_start, seed_start + n)]
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    bar = tqdm(total=n, desc=f"synth {split}", unit="clip", disable=not progress)
    rows = []
    if workers == 1:
        for job in jobs:
            rows.append(_make_clip(job))
            bar.update()
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for row in pool.imap(_make_clip, jobs, chunksize=16):
                rows.append(row)
                bar.update()
    bar.close()
    records = [CaptionRecord(row.pop("video"), row.pop("caption"), row) for row in rows]
    return write_captions(out, records)
