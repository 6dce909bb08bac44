"""Tokenizers: video (MAGVIT-v2 with lookup-free quantization), audio (SoundStream with residual
VQ) and the frozen text encoder."""

from .lfq import LookupFreeQuantizer, bits_to_codes, codes_to_bits
from .magvit import VideoTokenizer, VideoTokenizerConfig
from .rvq import ResidualVectorQuantizer
from .soundstream import AudioTokenizer, AudioTokenizerConfig

__all__ = [
    "AudioTokenizer",
    "AudioTokenizerConfig",
    "LookupFreeQuantizer",
    "ResidualVectorQuantizer",
    "VideoTokenizer",
    "VideoTokenizerConfig",
    "bits_to_codes",
    "codes_to_bits",
]
