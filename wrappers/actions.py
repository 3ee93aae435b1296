"""Action projection: from an LLM's free text to an environment command, and whether the response was valid."""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["ACTION_CLOSE", "ACTION_OPEN", "VALIDITY_RULES", "format_action", "parse_action", "project_action"]

ACTION_OPEN, ACTION_CLOSE = "<action>", "</action>"
# each tag is found on its own (a lazy "<tag>(.*?)</tag>" search is quadratic: 25,000 "<action>" without a
# closing tag took half a minute); the match of that expression is the first opening tag and the first closing tag
# after it
_ACTION_OPEN, _ACTION_CLOSE = re.compile("<action>", re.IGNORECASE), re.compile("</action>", re.IGNORECASE)
_THINK_OPEN, _THINK_CLOSE = re.compile("<think>", re.IGNORECASE), re.compile("</think>", re.IGNORECASE)
# CJK ideographs and kana: the reference projection rejects a response that drifted into another script
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# "admissible": the command must be one of the env's admissible commands (this library's rule);
# "format": the response must hold <think>...</think> and <action>...</action> and no CJK text (the paper's
# reference code, agent_system/environments/env_package/*/projection.py); what the env then does with the
# command is the env's business
VALIDITY_RULES = ("admissible", "format")


def format_action(command: str) -> str:
    """The response text that answers ``command`` in the expected format."""
    return f"{ACTION_OPEN}{command}{ACTION_CLOSE}"


def parse_action(text: str) -> str | None:
    """The command inside the first ``<action>...</action>`` of ``text``, stripped and lower-cased; None if absent.

    First block and lower case, as the paper's reference projection: a model that writes ``<action>`` inside its
    reasoning and again at the end is read at its first commitment, and ``Go to shelf 1`` is ALFWorld's
    ``go to shelf 1``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    block = _between(text, _ACTION_OPEN, _ACTION_CLOSE)
    if block is None:
        return None
    command = block.strip().lower()
    return command or None


def _between(text: str, opening: re.Pattern[str], closing: re.Pattern[str]) -> str | None:
    """The text between the first ``opening`` tag and the first ``closing`` tag after it (None without them), in
    linear time."""
    start = opening.search(text)
    end = closing.search(text, start.end()) if start is not None else None
    return text[start.end() : end.start()] if start is not None and end is not None else None


def project_action(text: str, admissible: Collection[str], rule: str = "admissible") -> tuple[str, bool]:
    """``(command for the env, valid)`` under validity ``rule`` (see :data:`VALIDITY_RULES`).

    A response with no parsable action is invalid under both rules; the env then receives the raw text, so it
    answers "Nothing happens." (ALFWorld) or shows the page unchanged (WebShop), and the trainer applies the
    invalid-action penalty.
    """
    if rule not in VALIDITY_RULES:
        raise ValueError(f"validity rule must be one of {VALIDITY_RULES}, got {rule!r}")
    command = parse_action(text)
    if command is None:
        return text, False
    if rule == "admissible":
        return command, command in admissible
    return command, _between(text, _THINK_OPEN, _THINK_CLOSE) is not None and _CJK.search(text) is None
