"""Media in and out: video and audio files (PyAV), resampling, GIFs and contact sheets."""

from .errors import MediaError
from .read import SAMPLE_RATE, Media, read_video, resize_and_crop
from .sheet import contact_sheet, save_contact_sheet
from .walk import WalkReport, find_media, walk_media
from .write import atomic_path, from_uint8_frames, save_image, to_uint8_frames, write_gif, write_video

__all__ = [
    "SAMPLE_RATE",
    "Media",
    "MediaError",
    "WalkReport",
    "atomic_path",
    "contact_sheet",
    "find_media",
    "from_uint8_frames",
    "read_video",
    "resize_and_crop",
    "save_contact_sheet",
    "save_image",
    "to_uint8_frames",
    "walk_media",
    "write_gif",
    "write_video",
]
