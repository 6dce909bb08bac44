import hashlib

import numpy as np
import pytest

from videopoet.world import render_clip, sample_scene
from videopoet.world.render import bounce_frames, render_audio
from videopoet.world.scene import picture_track, shape_extents
from videopoet.world.spec import COLOURS, COMPOSITIONAL_PAIRS, SAMPLE_RATE


def _digest(clip) -> str:
    return hashlib.sha256(clip.video.tobytes() + clip.audio.tobytes() + clip.caption.encode()).hexdigest()


def test_same_arguments_render_identical_bytes():
    for split in ("train", "test", "compositional"):
        assert _digest(render_clip(split, 11)) == _digest(render_clip(split, 11))
    assert _digest(render_clip("train", 11)) != _digest(render_clip("train", 12))
    assert _digest(render_clip("train", 11)) != _digest(render_clip("test", 11))


@pytest.mark.parametrize("size, frames", [(32, 1), (48, 5), (64, 17), (128, 9)])
def test_shapes_and_value_ranges(size, frames):
    clip = render_clip("train", 3, size=size, frames=frames)
    assert clip.video.shape == (frames, size, size, 3) and clip.video.dtype == np.uint8
    assert clip.audio.shape == (frames * SAMPLE_RATE // 8,) and clip.audio.dtype == np.float32
    assert np.abs(clip.audio).max() <= 1.0


def test_a_shorter_clip_is_a_prefix_of_the_longer_one():
    long, short = render_clip("test", 5, frames=17), render_clip("test", 5, frames=9)
    np.testing.assert_array_equal(long.video[:9], short.video)
    assert long.caption == short.caption


@pytest.mark.parametrize("size, frames", [(40, 17), (16, 17), (528, 17), (64, 0)])
def test_invalid_render_arguments_are_refused(size, frames):
    with pytest.raises(ValueError, match="size|frames"):
        render_clip("train", 0, size=size, frames=frames)


def test_invalid_split_and_seed_are_refused():
    with pytest.raises(ValueError, match="split"):
        sample_scene("validation", 0)
    with pytest.raises(ValueError, match="seed"):
        sample_scene("train", -1)


def test_splits_are_disjoint():
    train = [sample_scene("train", seed) for seed in range(400)]
    test = [sample_scene("test", seed) for seed in range(400)]
    compositional = [sample_scene("compositional", seed) for seed in range(400)]
    for scene in train + test:
        assert not any((o.colour, o.shape) in COMPOSITIONAL_PAIRS for o in scene.objects)
    for scene in compositional:
        assert any((o.colour, o.shape) in COMPOSITIONAL_PAIRS for o in scene.objects)
    # test clips come from their own random streams: the same seed is a different clip
    train_keys = {(s.description, s.starts) for s in train}
    assert not train_keys & {(s.description, s.starts) for s in test}
    # every non-held-out colour-shape pair appears in training data
    pairs = {(o.colour, o.shape) for scene in train for o in scene.objects}
    assert len(pairs) == 8 * 3 - len(COMPOSITIONAL_PAIRS)


def test_placement_rules_hold_for_every_frame():
    t = np.arange(17)
    for seed in range(300):
        scene = sample_scene("train", seed)
        tracks = []
        colours = [o.colour for o in scene.objects]
        assert len(set(colours)) == len(colours) and 1 <= len(colours) <= 2
        for obj, start in zip(scene.objects, scene.starts):
            x, y, r = picture_track(obj, start, scene.camera, t)
            left, right, top, bottom = shape_extents(obj.shape)
            assert (x - left * r >= 0).all() and (x + right * r <= 1).all()
            assert (y - top * r >= 0).all() and (y + bottom * r <= 1).all()
            assert (r >= 0.06).all() and (r <= 0.3).all()
            tracks.append((x, y, r))
        if len(tracks) == 2:
            (x1, y1, r1), (x2, y2, r2) = tracks
            assert (np.hypot(x1 - x2, y1 - y2) > 1.2 * (r1 + r2) + 0.03).all()


def test_objects_are_drawn_in_their_palette_colour():
    for seed in range(20):
        clip = render_clip("train", seed)
        for obj, start in zip(clip.scene.objects, clip.scene.starts):
            x, y, _ = picture_track(obj, start, clip.scene.camera, np.array([0]))
            centre = clip.video[0, int(y[0] * 64), int(x[0] * 64)]
            np.testing.assert_array_equal(centre, COLOURS[obj.colour][0])


def test_audio_has_the_tones_and_clicks_of_the_spec():
    for seed in range(200):
        scene = sample_scene("train", seed)
        if len(scene.objects) == 1 and scene.objects[0].motion == "bounce":
            break
    audio = render_audio(scene, 17).astype(np.float64)
    frequency = COLOURS[scene.objects[0].colour][1]
    seconds = np.arange(len(audio)) / SAMPLE_RATE
    fade = np.clip(np.minimum(seconds, len(audio) / SAMPLE_RATE - seconds) / 0.02, 0, 1)
    clicks = audio - 0.25 * fade * np.sin(2 * np.pi * frequency * seconds)
    assert len(bounce_frames(17)) == 3
    click_samples = np.zeros(len(audio), dtype=bool)
    for frame in bounce_frames(17):  # 10 ms of noise from each landing, decaying from 0.5
        start = frame * SAMPLE_RATE // 8
        click_samples[start : start + 160] = True
        burst = clicks[start : start + 160]
        assert 0.1 < np.abs(burst[:40]).mean() < 0.5 and np.abs(burst[120:]).mean() < np.abs(burst[:40]).mean() / 2
    np.testing.assert_allclose(clicks[~click_samples], 0, atol=1e-6)  # the tone alone elsewhere
    assert audio[-1] == pytest.approx(0, abs=1e-3)  # faded out
