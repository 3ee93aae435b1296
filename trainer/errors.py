"""The error a user's configuration raises, and how a command line prints it."""

from __future__ import annotations

__all__ = ["MAX_ERROR_LENGTH", "ConfigError", "one_line"]

MAX_ERROR_LENGTH = 2000


class ConfigError(ValueError):
    """A configuration a user wrote is wrong; the message says what and how to fix it."""


def one_line(error: BaseException) -> str:
    """An error's message on one line (a CLI prints exactly one line per error), cut to :data:`MAX_ERROR_LENGTH`
    characters: a value quoted from a file must not make the line unbounded."""
    text = " ".join(str(error).split())
    if len(text) <= MAX_ERROR_LENGTH:
        return text
    return f"{text[: MAX_ERROR_LENGTH - 40]}... (message cut, {len(text):,} characters)"
