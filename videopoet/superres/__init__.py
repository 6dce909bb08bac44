"""Token super-resolution: a masked transformer with windowed attention that turns a
low-resolution token grid and its text into a high-resolution grid in a few parallel steps."""

from .decoder import SuperResDecoder, SuperResDecoderConfig
from .decoding import DecodingConfig, TrainingExample, augment_low_codes, bit_signs, collate_examples, decode, expected_latent, masked_after_step, masked_fraction, masked_token_loss, training_example
from .model import SuperResConfig, SuperResTransformer, join_codes, split_codes
from .windows import AXES, merge_windows, partition_windows

__all__ = [
    "AXES",
    "DecodingConfig",
    "SuperResConfig",
    "SuperResDecoder",
    "SuperResDecoderConfig",
    "SuperResTransformer",
    "TrainingExample",
    "augment_low_codes",
    "bit_signs",
    "collate_examples",
    "decode",
    "expected_latent",
    "join_codes",
    "masked_after_step",
    "masked_fraction",
    "masked_token_loss",
    "merge_windows",
    "partition_windows",
    "split_codes",
    "training_example",
]
