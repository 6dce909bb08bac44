import itertools

import numpy as np
import pytest

from videopoet.world import CaptionError, ObjectDescription, SceneDescription, describe, parse, sample_scene
from videopoet.world.captions import CAMERA_PHRASES, CAMERA_TEMPLATES, MOTION_PHRASES, SHAPE_WORDS, SIZE_WORDS
from videopoet.world.spec import CAMERAS, COLOUR_NAMES, MOTIONS, SHAPES, SIZES


def test_canonical_caption_matches_the_spec_example():
    scene = SceneDescription(
        (ObjectDescription("red", "circle", "large", "left"), ObjectDescription("blue", "square", "small", "bounce")),
        "pan right",
    )
    assert describe(scene) == "a large red circle moving left and a small blue square bouncing, the camera pans right"


def test_every_synonym_parses_back():
    for size, shape, motion in itertools.product(SIZES, SHAPES, MOTIONS):
        for size_word, shape_word, motion_phrase in itertools.product(SIZE_WORDS[size], SHAPE_WORDS[shape], MOTION_PHRASES[motion]):
            text = f"a {size_word} green {shape_word} {motion_phrase}"
            assert parse(text) == SceneDescription((ObjectDescription("green", shape, size, motion),)), text
    for camera, phrases in CAMERA_PHRASES.items():
        for phrase, template in itertools.product(phrases, CAMERA_TEMPLATES):
            text = template.format(objects="a big white box falling and a tiny red ball resting", camera=phrase)
            parsed = parse(text)
            assert parsed.camera == camera
            assert [o.colour for o in parsed.objects] == ["white", "red"]


def test_random_captions_of_all_splits_round_trip():
    rng = np.random.default_rng(0)
    for split in ("train", "test", "compositional"):
        for seed in range(50):
            description = sample_scene(split, seed).description
            assert parse(describe(description, rng)) == description
            assert parse(describe(description)) == description


@pytest.mark.parametrize(
    "caption, reason",
    [
        ("", "names no object"),
        ("a large red circle", "no motion"),
        ("a large circle moving left", "no colour"),
        ("a red circle moving left", "no size"),
        ("a large red blue circle moving left", "several colours"),
    ],
)
def test_bad_captions_say_what_is_missing(caption, reason):
    with pytest.raises(CaptionError, match=reason):
        parse(caption)


def test_grammar_covers_the_spec_vocabulary():
    assert set(COLOUR_NAMES) == {"red", "orange", "yellow", "green", "cyan", "blue", "purple", "white"}
    assert set(CAMERA_PHRASES) | {"static"} == set(CAMERAS)
