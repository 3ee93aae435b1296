"""Gymnasium spaces for text environments."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

__all__ = ["AnyText", "text_observation_space"]


class AnyText(spaces.Text):
    """A :class:`gymnasium.spaces.Text` that contains *any* ``str`` of allowed length.

    Gymnasium's default ``Text`` charset is 62 alphanumerics, so ``"go to fridge 1"`` would lie
    outside it, and a full-Unicode charset pickles to tens of MB. Env text (and LLM output) can
    hold any character, so membership only checks the type and the length; :meth:`sample` still
    draws from the (small) charset given.
    """

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, AnyText) and self.min_length == other.min_length and self.max_length == other.max_length
        )

    def __hash__(self) -> int:  # spaces compare by value; keep them hashable accordingly
        return hash((type(self), self.min_length, self.max_length))


def text_observation_space(max_length: int = 8192, hash_length: int = 32) -> spaces.Dict:
    """The observation contract of every gigpo-gym env: ``Dict({"text", "state_hash"})``."""
    return spaces.Dict(
        {
            "text": AnyText(max_length=max_length, min_length=0),
            "state_hash": AnyText(
                max_length=hash_length,
                min_length=hash_length,
                charset="0123456789abcdef",
            ),
        }
    )
