"""The errors a user's configuration (or a run it starts) raises, and how a command line prints them."""

from __future__ import annotations

__all__ = ["ConfigError", "DivergenceError", "one_line"]


class ConfigError(ValueError):
    """A configuration a user wrote is wrong; the message says what and how to fix it."""


class DivergenceError(ConfigError):
    """Training produced a non-finite loss, gradient, weight or log-probability; the message names which.

    A :class:`ConfigError` because its cure is a setting (a smaller ``learning_rate`` or ``max_grad_norm``), and
    so that a command line prints it as one line.
    """


def one_line(error: BaseException) -> str:
    """An error's message on one line (a CLI prints exactly one line per error)."""
    return " ".join(str(error).split())
