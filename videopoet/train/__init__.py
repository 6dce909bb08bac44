"""Training: the shared loop and each model's task (losses, data, export)."""

from .loop import TrainConfig, Trainer, TrainTask

__all__ = ["TrainConfig", "TrainTask", "Trainer"]
