"""The evaluator's figures on a CI-sized sample; benchmarks/evaluator_sanity.py runs the full ones."""

import numpy as np
import pytest

from videopoet.io import read_video, write_video
from videopoet.world import parse, render_clip, sample_scene
from videopoet.world.evaluator import (
    EvalReport,
    count_clicks,
    evaluate,
    evaluate_folder,
    format_table,
    observe,
    score_clip,
    sounding_colours,
)
from videopoet.world.synth import synthesize

CLIPS = 40
# chance for a caption that has nothing to do with the clip: 1/8 colours, 1/3 shapes, 1/2 sizes,
# 1/8 motions, and about 1/4 for the camera (static is drawn 40% of the time)
CHANCE = {"colour": 1 / 8, "shape": 1 / 3, "size": 1 / 2, "motion": 1 / 8, "camera": 0.25}


def _clips(split: str, size: int = 64):
    return [render_clip(split, seed, size=size) for seed in range(CLIPS)]


def _assert_all_at_least(report: EvalReport, floor: float):
    for attribute, value in report.accuracy().items():
        assert value >= floor, f"{attribute}: {value:.3f} < {floor}\n{format_table({'clips': report})}"


@pytest.mark.parametrize("split", ["test", "compositional"])
def test_ground_truth_scores_at_least_099(split):
    report = evaluate((clip.video, clip.audio, parse(clip.caption)) for clip in _clips(split))
    assert set(report.accuracy()) >= {"colour", "shape", "size", "motion", "camera", "all_right", "audio_colour"}
    _assert_all_at_least(report, 0.99)


@pytest.mark.parametrize("split", ["test", "compositional"])
def test_ground_truth_after_an_mp4_round_trip_scores_at_least_099(split, tmp_path):
    def decoded():
        for clip in _clips(split):
            media = read_video(write_video(tmp_path / "c.mp4", clip.video, clip.fps, audio=clip.audio))
            yield media.video, media.audio.numpy(), parse(clip.caption)

    _assert_all_at_least(evaluate(decoded()), 0.99)


def test_noise_scores_near_chance():
    rng = np.random.default_rng(0)
    clips = _clips("test")
    report = evaluate(
        (rng.integers(0, 256, clip.video.shape, dtype=np.uint8), rng.uniform(-1, 1, clip.audio.shape), parse(clip.caption))
        for clip in clips
    )
    accuracy = report.accuracy()
    for attribute, chance in CHANCE.items():
        assert accuracy[attribute] <= chance + 0.15, (attribute, accuracy[attribute])
    assert accuracy["count"] <= 0.65  # one or two objects: chance is about a half
    assert accuracy["all_right"] == 0 and accuracy["audio_colour"] == 0


def test_shuffled_captions_score_near_chance():
    clips = _clips("test")
    report = evaluate(
        (clip.video, clip.audio, parse(clips[(index + 1) % len(clips)].caption)) for index, clip in enumerate(clips)
    )
    accuracy = report.accuracy()
    for attribute, chance in CHANCE.items():
        assert accuracy[attribute] <= chance + 0.2, (attribute, accuracy[attribute])
    assert accuracy["all_right"] <= 0.05 and accuracy["audio_colour"] <= 0.2


def test_each_camera_and_motion_is_recovered():
    seen_cameras, seen_motions = set(), set()
    for seed in range(150):
        scene = sample_scene("train", seed)
        if scene.camera in seen_cameras and all(o.motion in seen_motions for o in scene.objects):
            continue
        clip = render_clip("train", seed)
        observation = observe(clip.video)
        assert observation.camera == scene.camera, clip.caption
        assert [o.motion for o in sorted(observation.objects, key=lambda o: o.colour)] == [
            o.motion for o in sorted(scene.objects, key=lambda o: o.colour)
        ], clip.caption
        seen_cameras.add(scene.camera)
        seen_motions.update(o.motion for o in scene.objects)
    assert len(seen_cameras) == 5 and len(seen_motions) == 8


def test_audio_readers_on_known_signals():
    seconds = np.arange(34_000) / 16_000
    tones = 0.25 * np.sin(2 * np.pi * 261.63 * seconds) + 0.25 * np.sin(2 * np.pi * 440.0 * seconds)
    assert sounding_colours(tones) == {"red", "blue"}
    assert sounding_colours(np.zeros(34_000)) == frozenset()
    clicks = tones.copy()
    rng = np.random.default_rng(0)
    for start in (0, 16_000, 32_000):
        clicks[start : start + 160] += 0.5 * rng.uniform(-1, 1, 160) * np.linspace(1, 0, 160)
    assert count_clicks(tones) == 0 and count_clicks(clicks) == 3


def test_an_empty_picture_matches_no_object():
    clip = render_clip("test", 0)
    grey = np.full_like(clip.video, 45)
    scores = score_clip(observe(grey), parse(clip.caption))
    assert scores["colour"][0] == 0 and scores["all_right"] == (0, 1)


def test_evaluate_folder_reads_a_synthesized_folder(tmp_path):
    synthesize(tmp_path / "data", "compositional", n=6, workers=2, progress=False)
    report, failures = evaluate_folder(str(tmp_path / "data"), workers=2, progress=False)
    assert report.clips == 6 and failures == []
    assert report.accuracy()["all_right"] == 1.0


def test_psnr_over_whole_clips_masks_and_first_frames():
    from videopoet.world.evaluator import first_frame_psnr, psnr

    clip = render_clip("test", 1)
    assert psnr(clip.video, clip.video) == float("inf")
    noisy = clip.video.astype(int)
    noisy[:, :8] += 10  # only the top 8 rows change, by 10 grey levels
    noisy = noisy.clip(0, 255).astype(np.uint8)
    mask = np.zeros(clip.video.shape[:3], dtype=bool)
    mask[:, :8] = True
    assert psnr(noisy, clip.video, mask) == pytest.approx(10 * np.log10(255**2 / 100), abs=0.05)
    assert psnr(noisy, clip.video, ~mask) == float("inf")
    assert psnr(noisy, clip.video) == pytest.approx(10 * np.log10(255**2 / (100 * 8 / 64)), abs=0.05)
    assert first_frame_psnr(clip.video, clip.video[:1]) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        psnr(clip.video[:2], clip.video)
    with pytest.raises(ValueError, match="square"):
        observe(clip.video[:, :, :32])


def test_images_are_scored_without_motion_or_camera():
    report = EvalReport()
    for seed in range(20):
        clip = render_clip("test", seed, frames=1)
        scores = score_clip(observe(clip.video, clip.audio), parse(clip.caption))
        assert "motion" not in scores and "camera" not in scores
        report.add(scores)
    _assert_all_at_least(report, 0.99)


def test_each_frame_keeps_its_own_shape_reading():
    clip = render_clip("test", 3)
    seen = observe(clip.video)
    wanted = {obj.colour: obj.shape for obj in parse(clip.caption).objects}
    for obj in seen.objects:
        assert len(obj.frame_shapes) == clip.video.shape[0]
        readings = [shape for shape in obj.frame_shapes if shape]
        assert readings and all(shape == wanted[obj.colour] for shape in readings)
    hidden = clip.video.copy()
    hidden[5] = hidden[5, :1, :1]  # one frame of flat background colour: nothing seen there
    still_seen = observe(hidden).objects
    assert len(still_seen) == len(seen.objects) and all(obj.frame_shapes[5] == "" for obj in still_seen)
