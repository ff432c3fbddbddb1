"""Errors shared by the data modules (kept apart so that ``data`` and ``image_folders`` need not import each other)."""

from __future__ import annotations


class DataNotFoundError(FileNotFoundError):
    """The requested data is not on this machine; the message says where to get it."""
