"""The Shapes World: a procedural audio-visual benchmark world (shared/SHAPES_WORLD.md)."""

from .captions import CaptionError, ObjectDescription, SceneDescription, describe, parse
from .render import Clip, render_audio, render_clip, render_video, training_caption
from .scene import Scene, sample_scene

__all__ = [
    "CaptionError",
    "Clip",
    "ObjectDescription",
    "Scene",
    "SceneDescription",
    "describe",
    "parse",
    "render_audio",
    "render_clip",
    "render_video",
    "sample_scene",
    "training_caption",
]
