"""Media in and out: video and audio files (PyAV), resampling, GIFs and contact sheets."""

from .errors import MediaError
from .read import SAMPLE_RATE, Media, read_audio, read_video, resize_and_crop
from .sheet import contact_sheet, save_contact_sheet
from .walk import AUDIO_SUFFIXES, VIDEO_SUFFIXES, WalkReport, find_media, walk_media
from .write import atomic_path, from_uint8_frames, save_image, to_uint8_frames, write_gif, write_video

__all__ = [
    "AUDIO_SUFFIXES",
    "SAMPLE_RATE",
    "VIDEO_SUFFIXES",
    "Media",
    "MediaError",
    "WalkReport",
    "atomic_path",
    "contact_sheet",
    "find_media",
    "from_uint8_frames",
    "read_audio",
    "read_video",
    "resize_and_crop",
    "save_contact_sheet",
    "save_image",
    "to_uint8_frames",
    "walk_media",
    "write_gif",
    "write_video",
]
