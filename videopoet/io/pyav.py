"""PyAV, imported on first use: the package imports (and trains from Shapes World, which it
renders itself) on machines without PyAV; reading or writing a media file then says what is missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class _PyAV:
    """Stands in for the `av` module; the first attribute looked up imports it."""

    _module: ModuleType | None = None

    def __getattr__(self, name: str):
        if _PyAV._module is None:
            try:
                _PyAV._module = importlib.import_module("av")
            except ImportError as error:
                raise ImportError(f"reading or writing media files needs PyAV (pip install 'av>=13,<19'): {error}") from error
        return getattr(_PyAV._module, name)


av = _PyAV()
