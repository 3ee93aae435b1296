"""Action projection: from an LLM's free text to an environment command."""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["format_action", "parse_action", "project_action"]

_ACTION = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)


def format_action(command: str) -> str:
    """The response text that answers ``command`` in the expected format."""
    return f"<action>{command}</action>"


def parse_action(text: str) -> str | None:
    """The command inside the last ``<action>...</action>`` of ``text``, stripped; None if absent."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    found = _ACTION.findall(text)
    if not found:
        return None
    command = found[-1].strip()
    return command or None


def project_action(text: str, admissible: Collection[str]) -> tuple[str, bool]:
    """``(command for the env, valid)``.

    A response whose action is missing, malformed or not admissible is *invalid*: the env then
    receives the parsed command (or the raw text when none parses) unchanged, so it answers
    "Nothing happens.", and the trainer adds the invalid-action penalty to the step's reward.
    """
    command = parse_action(text)
    if command is None:
        return text, False
    return command, command in admissible
