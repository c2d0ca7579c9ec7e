"""Project error types. Every user-facing failure is one of these, with a one-line message."""

from __future__ import annotations

from pathlib import Path


class StudioError(Exception):
    """Base class: the message is one line, suitable for a dialog or ``stderr``."""


class DataError(StudioError):
    """A dataset file is missing, unreadable or inconsistent.

    Parameters
    ----------
    path : the offending file or folder.
    reason : why it cannot be used (one sentence, no traceback).
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ParameterError(StudioError):
    """An analysis parameter is unknown, unparsable or out of bounds."""


class ModelNotFoundError(StudioError):
    """Model weights are not available locally (the message says where they were looked for)."""


class PluginError(StudioError):
    """An analysis plugin failed to import or to run."""


class Cancelled(StudioError):
    """Raised inside long work when the user cancels; nothing is written."""

    def __init__(self, message: str = "cancelled by the user"):
        super().__init__(message)
