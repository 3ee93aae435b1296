"""A ``gigpo-train`` run directory as a transaction: one writer at a time, commits by one atomic rename.

The commit point of a round is ``checkpoint.zip`` (:mod:`trainer.checkpoint`): it holds the weights, the optimiser,
every random generator and the run's state (config, rounds done) together, and it is replaced in one ``rename``.
Everything else follows it: on resume ``progress.csv`` keeps exactly the rows of the committed rounds, and the
temporary files a killed process left are removed. A kill at any moment leaves the last committed round resumable.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import KVWriter

from .atomic import TEMPORARY_MARK, atomic_write
from .errors import ConfigError

__all__ = ["LOCK", "ProgressCSV", "locked", "remove_temporaries"]

LOCK = ".lock"


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block; a second writer gets a :class:`ConfigError` naming the holder.

    The lock is an ``flock`` on ``run_dir/.lock``, which the kernel releases when its holder exits in any way
    (kill -9 included), so a dead run never blocks its own resume.
    """
    path = run_dir / LOCK
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigError(f"run directory {run_dir} is in use by another gigpo-train (pid {holder})") from error
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_temporaries(run_dir: Path) -> list[str]:
    """Remove what an interrupted writer left (hidden ``.*.tmp*`` files and folders); returns their names."""
    removed = []
    for entry in run_dir.iterdir():
        if entry.name.startswith(".") and TEMPORARY_MARK in entry.name:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return sorted(removed)


class ProgressCSV(KVWriter):
    """``progress.csv`` with one row per logged round, rewritten atomically after each row.

    SB3's CSV writer truncates its file when it opens it and appends in place; this one starts from the first
    ``keep_rows`` rows already in the file (the committed rounds of a resumed run), adds columns as new keys
    appear, and never leaves a torn or half-written file.
    """

    def __init__(self, path: Path, keep_rows: int = 0) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        self.keys: list[str] = []
        if keep_rows and path.exists():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.keys = list(reader.fieldnames or [])
                self.rows = [dict(r) for r, _ in zip(reader, range(keep_rows), strict=False)]

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        row = {
            key: str(value)
            for key, value in key_values.items()
            if not (key_excluded.get(key) and "csv" in key_excluded[key])
        }
        self.keys.extend(key for key in row if key not in self.keys)
        self.rows.append(row)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.keys, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, out.getvalue())

    def close(self) -> None:
        """Nothing is held open between rows."""
