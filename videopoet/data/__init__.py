"""Datasets: captioned video folders and (later) token shards."""

from .captions import CAPTIONS_FILE, CaptionRecord, read_captions, write_captions

__all__ = ["CAPTIONS_FILE", "CaptionRecord", "read_captions", "write_captions"]
