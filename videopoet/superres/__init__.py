"""Token super-resolution: a masked transformer with windowed attention that turns a
low-resolution token grid and its text into a high-resolution grid in a few parallel steps."""

from .decoding import DecodingConfig, TrainingExample, augment_low_codes, collate_examples, decode, masked_after_step, masked_fraction, masked_token_loss, training_example
from .model import SuperResConfig, SuperResTransformer, join_codes, split_codes
from .windows import AXES, merge_windows, partition_windows

__all__ = [
    "AXES",
    "DecodingConfig",
    "SuperResConfig",
    "SuperResTransformer",
    "TrainingExample",
    "augment_low_codes",
    "collate_examples",
    "decode",
    "join_codes",
    "masked_after_step",
    "masked_fraction",
    "masked_token_loss",
    "merge_windows",
    "partition_windows",
    "split_codes",
    "training_example",
]
