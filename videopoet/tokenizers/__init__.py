"""Tokenizers: video (MAGVIT-v2 with lookup-free quantization)."""

from .lfq import LookupFreeQuantizer, bits_to_codes, codes_to_bits
from .magvit import VideoTokenizer, VideoTokenizerConfig

__all__ = ["LookupFreeQuantizer", "VideoTokenizer", "VideoTokenizerConfig", "bits_to_codes", "codes_to_bits"]
