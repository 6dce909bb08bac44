"""The multimodal language model: one vocabulary, task sequences, the transformer, sampling."""

from .model import LMConfig, VideoPoetLM
from .sampling import SamplingConfig, sample
from .sequences import SequenceBatch, TaskExample, TokenSequence, build_sequence, collate, drop_condition, output_codes
from .tasks import ClipTokens, make_example
from .vocabulary import TASKS, Vocabulary

__all__ = [
    "TASKS",
    "ClipTokens",
    "LMConfig",
    "SamplingConfig",
    "SequenceBatch",
    "TaskExample",
    "TokenSequence",
    "VideoPoetLM",
    "Vocabulary",
    "build_sequence",
    "collate",
    "drop_condition",
    "make_example",
    "output_codes",
    "sample",
]
