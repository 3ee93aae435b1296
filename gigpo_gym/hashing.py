"""Canonical, process-independent digests of environment states."""

from __future__ import annotations

import hashlib

__all__ = ["HASH_LENGTH", "canonical_hash"]

HASH_LENGTH = 32  # hex characters (128-bit blake2b digest)


def canonical_hash(state: tuple) -> str:
    """Hex digest of a state given as nested tuples of str/int/bool/None.

    ``repr`` of such tuples is canonical (no dict or set ordering involved) and independent of
    the process, unlike Python's salted ``hash()``; callers sort any unordered parts first.
    """
    return hashlib.blake2b(repr(state).encode(), digest_size=HASH_LENGTH // 2).hexdigest()
