"""The errors a user's configuration (or a run it starts) raises, and how a command line prints them."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_ERROR_LENGTH", "ConfigError", "DivergenceError", "custom_code_refused", "one_line", "shown"]

MAX_ERROR_LENGTH = 2000


class ConfigError(ValueError):
    """A configuration a user wrote is wrong; the message says what and how to fix it."""


class DivergenceError(ConfigError):
    """Training produced a non-finite loss, gradient, weight or log-probability; the message names which.

    A :class:`ConfigError` because its cure is a setting (a smaller ``learning_rate`` or ``max_grad_norm``), and
    so that a command line prints it as one line.
    """


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


def shown(value: Any, limit: int = 80, quote: bool = True) -> str:
    """``repr(value)`` (``str`` with ``quote=False``) cut to about ``limit`` characters, for error messages: a value
    from a file is printed bounded, and an integer of hundreds of digits by its length."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * limit:
        return f"an integer of about {int(value.bit_length() * math.log10(2)):,} digits"
    try:
        text = repr(value) if quote else str(value)
    except ValueError:  # it holds an integer of more digits than Python prints
        return f"a {type(value).__name__} holding a very large number"
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"
