"""A ``gigpo-train`` run directory as a transaction: one writer at a time, commits by one atomic rename.

The commit point of a round is ``checkpoint.zip`` (:mod:`trainer.checkpoint`): it holds the weights, the optimiser,
every random generator and the run's state (config, rounds done) together, and it is replaced in one ``rename``.
Everything else follows it: on resume ``progress.csv`` keeps exactly the rows of the committed rounds, and the
temporary folders a killed process left are removed. A kill at any moment leaves the last committed round resumable.

A run directory may come from someone else (``--resume``), and a fresh run may be pointed at any folder: the files
gigpo-train writes there (:data:`RUN_FILES`, TensorBoard's event files, the temporary folders) must be regular files
of its own, never links (a write through ``.lock -> ~/.bashrc`` would empty the target), and a fresh run starts
only in an empty folder or one that a killed start of gigpo-train left (:func:`check_run_dir`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import KVWriter

from .atomic import TEMPORARY_MARK, atomic_write
from .errors import ConfigError

__all__ = ["LOCK", "RUN_FILES", "ProgressCSV", "check_run_dir", "locked", "remove_temporaries"]

LOCK = ".lock"
# every file gigpo-train writes, truncates or replaces in a run directory, besides TensorBoard's event files
# (EVENTS); a file added to the run directory must be named here, so that a link in its place is refused
RUN_FILES = (LOCK, "config.yaml", "progress.csv", "checkpoint.zip", "eval.json", "eval.md", "learning_curve.png")
EVENTS = re.compile(r"events\.out\.tfevents\..+")
# the scratch folder atomic.atomic_path makes beside a run file (``mkdtemp``'s random suffix): nothing else matches
TEMPORARY = re.compile(
    rf"\.(?:{'|'.join(re.escape(name) for name in RUN_FILES if name != LOCK)}){re.escape(TEMPORARY_MARK)}-[a-z0-9_]+"
)


def _shown(names: list[str], limit: int = 5) -> str:
    """A few of ``names``, quoted (a name may hold any character but ``/``), for a one-line message."""
    listed = ", ".join(repr(name[:80]) for name in sorted(names)[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_run_dir(run_dir: Path, fresh: bool) -> None:
    """Refuse ``run_dir`` (a :class:`ConfigError` naming the path) if gigpo-train would write through a link there.

    Each of :data:`RUN_FILES` and TensorBoard's event files that exists must be a regular file, not a symbolic
    link, a folder or a device, and each temporary name must be a real folder (:func:`remove_temporaries` deletes
    it). ``fresh``: a new run also refuses a folder that holds anything else, or that holds files but no ``.lock``
    (so not one a killed start of gigpo-train left), rather than replacing a ``config.yaml`` of the user's. On
    ``--resume`` other files are left alone. A missing ``run_dir`` passes.
    """
    try:
        entries = list(os.scandir(run_dir))
    except FileNotFoundError:
        return
    except NotADirectoryError as error:
        raise ConfigError(f"run directory {run_dir} is a file") from error
    except OSError as error:
        raise ConfigError(f"cannot read run directory {run_dir}: {error.strerror}") from error
    foreign = []
    for entry in entries:
        path = run_dir / entry.name
        if entry.name in RUN_FILES or EVENTS.fullmatch(entry.name):
            if entry.is_symlink():
                raise ConfigError(
                    f"{path} is a symbolic link; gigpo-train never writes through a link in a run directory "
                    "(remove it, or choose another --run-dir)"
                )
            if not entry.is_file(follow_symlinks=False):
                raise ConfigError(f"{path} is not a regular file; gigpo-train writes a file there (remove it)")
        elif TEMPORARY.fullmatch(entry.name):
            if not entry.is_dir(follow_symlinks=False):
                raise ConfigError(
                    f"{path} has the name of a gigpo-train temporary folder but is not a folder; remove it"
                )
        else:
            foreign.append(entry.name)
    if fresh and entries and (foreign or not any(entry.name == LOCK for entry in entries)):
        held = foreign or [entry.name for entry in entries]
        raise ConfigError(
            f"run directory {run_dir} is not empty and is not a gigpo-train run (it holds {_shown(held)}); a new "
            "run starts in a new or empty folder, so that nothing of yours is replaced or deleted: choose "
            "another --run-dir (or pass --resume to continue a run)"
        )


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block; a second writer gets a :class:`ConfigError` naming the holder.

    The lock is an ``flock`` on ``run_dir/.lock``, which the kernel releases when its holder exits in any way
    (kill -9 included), so a dead run never blocks its own resume. The file is opened without following a link
    and must be a regular file: a link or a device in its place is refused, never truncated.
    """
    path = run_dir / LOCK
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ConfigError(
                f"{path} is a symbolic link; gigpo-train never writes through a link in a run directory "
                "(remove it, or choose another --run-dir)"
            ) from error
        raise ConfigError(f"cannot open the run directory's lock {path}: {error.strerror}") from error
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"{path} is not a regular file; gigpo-train writes a file there (remove it)")
    with open(fd, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read(32).strip() or "unknown"
            raise ConfigError(
                f"run directory {run_dir} is in use by another gigpo-train (pid {holder!s:.32})"
            ) from error
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
    """Remove the scratch folders an interrupted writer left (:data:`TEMPORARY` names); returns their names.

    Only real folders with those names are removed (``rmtree`` removes a link inside without following it);
    nothing else in ``run_dir`` is touched, whatever its name.
    """
    removed = []
    for entry in os.scandir(run_dir):
        if TEMPORARY.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
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
