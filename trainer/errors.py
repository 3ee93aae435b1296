"""The error a user's configuration raises, and how a command line prints it."""

from __future__ import annotations

__all__ = ["ConfigError", "one_line"]


class ConfigError(ValueError):
    """A configuration a user wrote is wrong; the message says what and how to fix it."""


def one_line(error: BaseException) -> str:
    """An error's message on one line (a CLI prints exactly one line per error)."""
    return " ".join(str(error).split())
