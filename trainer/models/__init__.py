"""The model zoo: loading (:mod:`.loading`: offline first, one error when a hub model is not here), offline presets
(:mod:`.presets`), the tiny-model builder (:mod:`.tiny`), the exact Qwen2.5 tokenizer (:mod:`.tokenizers`) and where
models are cached (:mod:`.paths`). Arrows point one way: loading -> presets -> tiny -> tokenizers -> paths -> quiet
(transformers' progress bars off)."""

from .loading import ModelUnavailableError, load_pretrained
from .paths import cache_dir
from .presets import MODEL_PRESETS, TINY_PRESETS, resolve_model, smollm2_path
from .tiny import build_tiny_model, tiny_model_path
from .tokenizers import qwen25_tokenizer

__all__ = [
    "MODEL_PRESETS",
    "TINY_PRESETS",
    "ModelUnavailableError",
    "build_tiny_model",
    "cache_dir",
    "load_pretrained",
    "qwen25_tokenizer",
    "resolve_model",
    "smollm2_path",
    "tiny_model_path",
]
