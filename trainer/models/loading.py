"""Loading a causal LM and its tokenizer: from disk without a network call, and one clear error when the weights
are neither here nor reachable.

A preset or a local folder loads with ``local_files_only=True``. A hub id loads from the Hugging Face cache first,
also without a network call; only when the cache lacks it, ``HF_HUB_OFFLINE`` is unset and the hub answers a single
request within :data:`REACHABLE_TIMEOUT_S` seconds does transformers download it. Otherwise
:class:`ModelUnavailableError` says, in one line, what was looked for, where, and what loads offline, within seconds
instead of transformers' retries. Code shipped with a model is never run (``trust_remote_code=False``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from .presets import MODEL_PRESETS, resolve_model
from .quiet import quiet_loading

__all__ = ["REACHABLE_TIMEOUT_S", "ModelUnavailableError", "hub_unreachable", "load_pretrained"]

REACHABLE_TIMEOUT_S = 3.0


class ModelUnavailableError(OSError):
    """A hub model that is not in the local cache and cannot be downloaded here (an ``OSError``, as transformers'
    own loading errors are)."""


def _offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(flag.upper() in ("1", "ON", "YES", "TRUE") for flag in flags)


def hub_unreachable(timeout: float = REACHABLE_TIMEOUT_S) -> str | None:
    """Why the hub cannot be used now (``HF_HUB_OFFLINE`` set, or no answer to one request within ``timeout``
    seconds), or ``None`` when it answered. Any HTTP answer counts as reachable; the request runs in a thread so
    that a hanging name lookup cannot hold the caller past ``timeout``."""
    if _offline():
        return "HF_HUB_OFFLINE is set"
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    outcome: list[str | None] = []

    def probe() -> None:
        try:
            get_session().head(constants.ENDPOINT, timeout=timeout)
            outcome.append(None)
        except Exception as error:  # noqa: BLE001 - any failure to get an answer means "not reachable"
            outcome.append(
                f"{constants.ENDPOINT} did not answer: {' '.join(str(error).split()) or type(error).__name__}"
            )

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0] if outcome else f"{constants.ENDPOINT} did not answer within {timeout:g} s"


def _unavailable(name: str, reason: str, cached_error: BaseException) -> ModelUnavailableError:
    from huggingface_hub import constants, try_to_load_from_cache

    cache = constants.HF_HUB_CACHE
    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        where = f"only partly in the Hugging Face cache {cache} ({' '.join(str(cached_error).split())})"
    else:
        where = f"not in the Hugging Face cache {cache}"
    offline = ", ".join(repr(preset) for preset in MODEL_PRESETS if preset != "tiny-qwen2.5")
    return ModelUnavailableError(
        f"model {name!r} is {where} and cannot be downloaded ({reason}); offline choices: a preset ({offline}), "
        "a local save_pretrained folder, or this hub id after downloading it once where the hub is reachable "
        "(then HF_HUB_OFFLINE=1 loads it from the cache with no network call)"
    )


@contextlib.contextmanager
def _load_report_off() -> Iterator[None]:
    """transformers' errors only in the block: its load report (missing, unexpected keys) is a multi-line warning."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def load_pretrained(
    model_name_or_path: str, dtype: Any = None, attn_implementation: str | None = None, init_seed: int = 0
) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of a preset name, a local folder or a hub id (:func:`.presets.resolve_model`).

    ``dtype``: a torch dtype for the weights; ``attn_implementation``: passed to ``from_pretrained`` when given;
    ``init_seed``: the initial weights of a random-weight tiny preset.
    Raises :class:`ModelUnavailableError` for a hub id that is neither cached nor downloadable now, and
    ``FileNotFoundError`` for a path that does not exist.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model_name_or_path, init_seed)
    model_options: dict[str, Any] = {"dtype": dtype}
    if attn_implementation:
        model_options["attn_implementation"] = attn_implementation

    def load(**where: Any) -> tuple[Any, Any]:
        # trust_remote_code=False: a model folder's Python code is never run
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, **where)
        with _load_report_off():  # what it reports is checked here instead, and refused
            loaded: Any = AutoModelForCausalLM.from_pretrained(
                path, trust_remote_code=False, output_loading_info=True, **model_options, **where
            )
        model, info = loaded
        untrained = sorted({*info["missing_keys"], *(str(k) for k in info["mismatched_keys"])})
        if untrained:  # transformers would train on them from random values, after one warning
            raise OSError(
                f"its weights do not cover the model {type(model).__name__}: {len(untrained)} tensor(s) missing or "
                f"of another shape (e.g. {untrained[0]}), a folder of another architecture or an incomplete one"
            )
        rows = model.get_input_embeddings().num_embeddings
        if len(tokenizer) > rows:  # its token ids would index past the embedding table: a crash in the first forward
            raise OSError(
                f"its tokenizer has {len(tokenizer)} tokens but the model's embedding table holds {rows}: the "
                "folder's tokenizer and weights do not belong together"
            )
        return tokenizer, model

    try:
        with quiet_loading():
            return load(local_files_only=True)  # a folder, or a hub id's cached snapshot: no network call
    except OSError as error:
        if os.path.isdir(path):
            raise
        cached_error = error
    reason = hub_unreachable()
    if reason is not None:
        raise _unavailable(model_name_or_path, reason, cached_error) from None
    return load()  # a download: the hub's own progress bars show it
