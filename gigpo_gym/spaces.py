"""Gymnasium spaces for text environments."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import shared_memory

__all__ = ["AnyText", "text_observation_space"]


class AnyText(spaces.Text):
    """A :class:`gymnasium.spaces.Text` that contains *any* ``str`` of allowed length.

    Gymnasium's default ``Text`` charset is 62 alphanumerics, so ``"go to fridge 1"`` would lie
    outside it, and a full-Unicode charset pickles to tens of MB. Env text (and LLM output) can
    hold any character, so membership only checks the type and the length; :meth:`sample` still
    draws from the (small) charset given.

    One value is one Python ``str``: ``shape`` is ``()`` and ``dtype`` is ``object``, so numeric batching (SB3's
    ``DummyVecEnv``, hence ``evaluate_policy`` and ``EvalCallback``) stores a batch as an object array of strings.
    Gymnasium's shared memory (``AsyncVectorEnv``'s default) holds each string as its Unicode code points.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Text's arguments
        super().__init__(*args, **kwargs)
        # gymnasium leaves a Text's shape None and its dtype a zero-width str, which numeric buffers cannot hold
        self._shape, self.dtype = (), np.dtype(object)

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


# Gymnasium's shared memory for Text maps characters through the charset (62 alphanumerics: "-" or " " raise
# KeyError) and reads the strings once when the vector env is built, so later steps would not show. Env text is any
# Unicode: a copy's slot holds its length, then its code points (int32, as Gymnasium's Text), and is read live.


@shared_memory.create_shared_memory.register(AnyText)
def _create_any_text_memory(space: AnyText, n: int = 1, ctx: Any = multiprocessing) -> SynchronizedArray:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


def _int32(memory: SynchronizedArray) -> np.ndarray:
    """The shared array's memory as int32 values (a view, not a copy)."""
    return np.frombuffer(memory.get_obj(), dtype=np.int32)  # type: ignore[call-overload]  # ctypes arrays are buffers


class _SharedTexts(Sequence[str]):
    """The strings of ``n`` copies' slots, decoded when read; a ``deepcopy`` (``AsyncVectorEnv(copy=True)``, the
    default) is a plain tuple of the current strings."""

    def __init__(self, memory: SynchronizedArray, n: int, max_length: int) -> None:
        self._slots = _int32(memory).reshape(n, max_length + 1)

    def __len__(self) -> int:
        return len(self._slots)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        slot = self._slots[index]
        return slot[1 : 1 + slot[0]].tobytes().decode("utf-32-le", "surrogatepass")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@shared_memory.read_from_shared_memory.register(AnyText)
def _read_any_text_memory(space: AnyText, memory: SynchronizedArray, n: int = 1) -> _SharedTexts:
    return _SharedTexts(memory, n, space.max_length)


@shared_memory.write_to_shared_memory.register(AnyText)
def _write_any_text_memory(space: AnyText, index: int, value: str, memory: SynchronizedArray) -> None:
    points = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype=np.int32)
    if len(points) > space.max_length:
        raise ValueError(f"a text of {len(points)} characters exceeds its space's max_length {space.max_length}")
    slot = _int32(memory)[index * (space.max_length + 1) :]
    slot[0] = len(points)
    slot[1 : 1 + len(points)] = points
