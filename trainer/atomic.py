"""Writing a file or a folder so that a reader (or a process killed mid-write) sees the old one or the new one whole.

Everything this project writes that another process may read at any moment goes through :func:`atomic_path`: the
run directory's files, checkpoints, the learning curve and the cached models.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TEMPORARY_MARK", "atomic_path", "atomic_write"]

# every temporary name holds this, after a leading dot: run_dir.remove_temporaries finds what a killed writer left
TEMPORARY_MARK = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], keep_existing: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write a file or a folder at; a clean exit renames it onto ``path``.

    The temporary path sits in a hidden scratch folder of ``path``'s own folder (one rename, same file system),
    which the block may also use for its intermediate files; the scratch folder is removed whatever happens, so
    an error leaves ``path`` as it was. A file replaces a file. A folder replaces nothing: if ``path`` exists
    when the block ends, ``keep_existing=True`` keeps it (another process made the same folder meanwhile, as two
    first uses of a cached model do) and otherwise the rename's error is raised. The rename replaces a link at
    ``path`` itself, never the file it points to; the scratch folder is made new (``mkdtemp``), so nothing is
    written through a link planted beside ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}{TEMPORARY_MARK}-", dir=path.parent))
    try:
        tmp = scratch / path.name
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())  # the data is on disk before the rename makes it the file
        try:
            os.replace(tmp, path)
        except OSError:
            if not (keep_existing and tmp.is_dir() and path.exists()):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` in one rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
