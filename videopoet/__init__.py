"""videopoet: an open, trainable multimodal video generator in the VideoPoet family."""

__version__ = "0.1.0"
