"""Rendering shared by the text envs."""

from __future__ import annotations

__all__ = ["render_text"]


def render_text(render_mode: str | None, text: str) -> str | None:
    """``"ansi"`` returns the text, ``"human"`` prints it, ``None`` renders nothing."""
    if render_mode == "ansi":
        return text
    if render_mode == "human":
        print(text)
    return None
