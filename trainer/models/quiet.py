"""Quiet output: transformers' progress bars off while models load and save (unless its verbosity asks for them),
and no progress bar left to fail at interpreter exit."""

from __future__ import annotations

import atexit
import contextlib
import logging
from collections.abc import Iterator

__all__ = ["close_open_bars", "quiet_loading"]


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers progress bars ("Loading weights", "Writing model shards") in the block, unless transformers'
    verbosity is ``info`` or ``debug`` (``TRANSFORMERS_VERBOSITY=info``) or its bars are already off.

    A bar for a 0.2M-parameter model read from a local disk says nothing; a download's bars (outside the block)
    still show.
    """
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled() or hf_logging.get_verbosity() <= logging.INFO:
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def close_open_bars() -> None:
    """Close every tqdm bar still open (registered to run at exit).

    A ``learn(progress_bar=True)`` that raises leaves SB3's rich bar open (its callback's training end never runs);
    closing it during interpreter shutdown fails ("Exception ignored in tqdm.__del__ ... sys.meta_path is None").
    At exit, before modules are torn down, it closes cleanly.
    """
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


atexit.register(close_open_bars)
