"""The one error type for bad dataset input (missing/corrupt files, mismatched or non-finite annotations)."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or missing dataset input. The message names the file and says what is wrong."""
