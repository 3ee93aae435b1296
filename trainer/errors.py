"""The error a user's configuration raises, and how a command line prints it."""

from __future__ import annotations

__all__ = ["MAX_ERROR_LENGTH", "ConfigError", "custom_code_refused", "one_line"]

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


def custom_code_refused(model: str, error: BaseException) -> str | None:
    """The message for transformers' refusal to load a model folder's own Python code (``trust_remote_code`` is
    always False here), or None for any other error. Transformers' own text asks for ``trust_remote_code=True``,
    which this library never passes."""
    if not isinstance(error, ValueError) or "trust_remote_code" not in str(error):
        return None
    return (
        f"model {model!r} needs the Python code shipped in its folder (an auto_map in its config), and gigpo-gym "
        "never runs code from a model folder: use a model whose architecture transformers itself provides"
    )
