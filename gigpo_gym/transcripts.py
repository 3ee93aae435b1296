"""Transcript files of the real envs (ALFWorld's TextWorld, princeton-nlp's WebShop): JSON lines, gzipped or not."""

from __future__ import annotations

import gzip
import json
import os

__all__ = ["read_transcripts"]


def read_transcripts(*paths: str | os.PathLike[str]) -> list[dict]:
    """The records of one or more transcript files (JSON lines, gzipped when the name ends in ``.gz``)."""
    records = []
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt") as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records
