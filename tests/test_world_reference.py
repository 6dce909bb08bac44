"""Clips render the same on every machine: fingerprints recorded once, checked everywhere.

The fingerprints (captions, per-frame channel means, sampled pixels and audio samples) were
recorded with `python tests/test_world_reference.py --record`; pixels may differ by one grey
level where a platform's last floating-point bit rounds the other way, nothing more.
"""

import json
import sys
from pathlib import Path

import numpy as np

from videopoet.world import render_clip

REFERENCE = Path(__file__).parent / "data" / "world_fingerprints.json"
CLIPS = [("train", 0), ("test", 5), ("compositional", 9), ("train", 123456)]
PIXELS = np.random.default_rng(0).integers(0, 64, size=(32, 3))  # (t mod 17, y, x) positions
SAMPLES = np.linspace(0, 33_999, 40).astype(int)


def fingerprint(split: str, seed: int) -> dict:
    clip = render_clip(split, seed)
    return {
        "caption": clip.caption,
        "channel_means": clip.video.reshape(17, -1, 3).mean(axis=1).round(3).tolist(),
        "pixels": clip.video[PIXELS[:, 0] % 17, PIXELS[:, 1], PIXELS[:, 2]].tolist(),
        "audio": clip.audio[SAMPLES].round(5).tolist(),
    }


def test_clips_match_the_recorded_fingerprints():
    reference = json.loads(REFERENCE.read_text())
    for split, seed in CLIPS:
        expected, actual = reference[f"{split}/{seed}"], fingerprint(split, seed)
        assert actual["caption"] == expected["caption"]
        np.testing.assert_allclose(actual["channel_means"], expected["channel_means"], atol=0.01)
        np.testing.assert_allclose(actual["pixels"], expected["pixels"], atol=1)
        np.testing.assert_allclose(actual["audio"], expected["audio"], atol=2e-5)


if __name__ == "__main__" and "--record" in sys.argv:
    REFERENCE.write_text(json.dumps({f"{s}/{n}": fingerprint(s, n) for s, n in CLIPS}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")
