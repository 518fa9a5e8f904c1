"""The one error type for bad dataset input (missing/corrupt files, mismatched or non-finite annotations)."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or missing dataset input. The message names the file and says what is wrong."""


def error_message(exc: BaseException) -> str:
    """The message to show a user for a bad-input error.

    An error raised in a DataLoader worker is re-raised by torch with the worker's whole traceback in its
    message; only the original message (which names the file) is kept.
    """
    text = str(exc)
    marker = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    if text.startswith("Caught ") and marker in text:
        return text.rsplit(marker, 1)[1].strip()
    return text
