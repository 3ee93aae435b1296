"""Hostile and careless inputs (issue 44): files that would cost unbounded memory or time, model folders that carry
code, checkpoints whose content would change behaviour, and numbers at the edges. Each ends in one clear error (or
the right result) within a bounded cost."""

from __future__ import annotations

import builtins
import json
import re
import shutil
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load as load_safetensors
from safetensors.torch import load_file, save_file
from safetensors.torch import save as save_safetensors

import gigpo_gym  # noqa: F401
from gigpo_gym.webshop.engine import parse_action as webshop_parse
from trainer.checkpoint import META, POLICY, STATE, CheckpointError, read_archive
from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.config import ConfigError, TrainConfig, resolve_config
from trainer.errors import MAX_ERROR_LENGTH, one_line
from trainer.gigpo import GiGPO
from wrappers.actions import parse_action as agent_parse
from wrappers.actions import project_action
from wrappers.group_env import GroupVecEnv

SMALL = dict(n_groups=2, group_size=2, batch_size=8, micro_batch_size=4, seed=3)


def _model(path: str, use_lora: bool = False) -> GiGPO:
    env = GroupVecEnv("ALFWorld-text-v0", 2, 2, dict(max_episode_steps=3), seed=3)
    return GiGPO("LLMPolicy", env, policy_kwargs=dict(model_name_or_path=path, use_lora=use_lora), **SMALL)


@pytest.fixture(scope="module")
def saved(tiny_path, tmp_path_factory) -> Path:
    return _model(tiny_path).save(tmp_path_factory.mktemp("hostile") / "agent")


def _items(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path: Path, items: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    return path


def _with_meta(source: Path, target: Path, change) -> Path:
    items = _items(source)
    meta = json.loads(items[META])
    change(meta)
    items[META] = json.dumps(meta).encode()
    return _write(target, items)


# --------------------------------------------------------------------------- zip entries: bounded before reading


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_compressed_entry_is_refused_before_it_inflates(saved, tmp_path, method):
    # 64 MB of zeros compress to kilobytes: the probe's 3.4 MB file inflated to 1.5 GB this way
    items = _items(saved)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w") as out:
        out.writestr(META, items[META])
        out.writestr(STATE, items[STATE])
        info = zipfile.ZipInfo(POLICY)
        info.compress_type = method
        with out.open(info, "w") as entry:
            for _ in range(64):
                entry.write(bytes(1 << 20))
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=rf"entry '{POLICY}' is compressed \(zip method {method}\)"):
            GiGPO.load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # refused from the header: nothing inflated


def _central_entry(raw: bytes, name: str) -> int:
    """Offset of ``name``'s central directory header in a zip's bytes."""
    at = 0
    while True:
        at = raw.index(b"PK\x01\x02", at)
        length = struct.unpack("<H", raw[at + 28 : at + 30])[0]
        if raw[at + 46 : at + 46 + length] == name.encode():
            return at
        at += 4


def test_declared_sizes_the_file_cannot_hold_are_refused(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    at = _central_entry(bytes(raw), POLICY)
    raw[at + 20 : at + 28] = struct.pack("<II", 1_500_000_000, 1_500_000_000)  # compressed, uncompressed size
    bad = tmp_path / "sizes.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="declare more bytes than the file"):
        read_archive(bad)


@pytest.mark.parametrize("flag", [0x1, 0x8, 0x40])
def test_zip_flags_the_writer_never_sets_are_refused(saved, tmp_path, flag):
    raw = bytearray(saved.read_bytes())
    at = _central_entry(bytes(raw), META)
    raw[at + 8 : at + 10] = struct.pack("<H", flag)  # general purpose flags (0x1: encrypted)
    bad = tmp_path / "flags.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"carries zip flags {flag:#x}"):
        GiGPO.load(bad)


def test_a_duplicate_entry_is_refused(saved, tmp_path):
    items = _items(saved)
    changed = json.loads(items[META])
    changed["arguments"]["estimator"] = "grpo"  # the second copy would win in zipfile
    bad = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(bad, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
        out.writestr(META, json.dumps(changed))
    with pytest.raises(CheckpointError, match=f"holds the entry '{META}' twice"):
        GiGPO.load(bad)
    with pytest.raises(CheckpointError, match="twice"):
        GiGPO.load_extra(bad)  # the run state gigpo-eval and --resume read first


@pytest.mark.parametrize(
    ("text", "message"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not valid JSON"), (b'{"x": 1e999}', "not a finite number")],
)
def test_json_that_is_deep_or_not_finite_is_refused(saved, tmp_path, text, message):
    items = {**_items(saved), META: text}
    with pytest.raises(CheckpointError, match=message):
        GiGPO.load(_write(tmp_path / "json.zip", items))


# --------------------------------------------------------------------------- YAML configs


BILLION_LAUGHS = """env_kwargs:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BILLION_LAUGHS, "stands for more than 10,000 values once its YAML aliases are expanded"),
        ("env_kwargs: &a {x: *a}\n", "recursive YAML alias"),
        ("rounds: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply|not valid YAML"),
        ("rounds: " + "9" * 5000 + "\n", "a value cannot be read"),
        ("rounds: " + "9" * 500 + "\n", "rounds must be a number below 2\\*\\*63 in size, got an integer of about 500"),
        ("learning_rate: " + "9" * 400 + "\n", "learning_rate must be a number below 2\\*\\*63"),
        ("x" * 100_000, "a config is at most"),
    ],
)
def test_hostile_config_files_are_short_quick_errors(tmp_path, capsys, content, message):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_config(config_file=path)
    assert time.perf_counter() - start < 2 and len(str(caught.value)) < 600
    assert train_cli.main(["--config", str(path), "--run-dir", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 700 and not (tmp_path / "r").exists()


def test_aliases_within_the_bound_still_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env_kwargs: &kw {task_types: [pick_and_place_simple], max_receptacles: 3}\nrounds: 2\n")
    assert resolve_config(config_file=path).env_kwargs == {
        "task_types": ["pick_and_place_simple"],
        "max_receptacles": 3,
    }


@pytest.mark.parametrize("value", [10**500, -(10**400)])
def test_huge_integers_are_one_error_wherever_they_come_from(value):
    with pytest.raises(ConfigError, match=r"seed must be a number below 2\*\*63 in size, got 9223372036854775808"):
        resolve_config(overrides=[f"seed={2**63}"])
    for make in (
        lambda: resolve_config(overrides=[f"seed={value}"]),
        lambda: resolve_config(rounds=value),
        lambda: TrainConfig(rounds=value).validate(),
        lambda: TrainConfig(learning_rate=value).validate(),
    ):
        with pytest.raises(ConfigError) as caught:
            make()
        assert len(str(caught.value)) < 200


def test_error_lines_stay_bounded():
    line = one_line(ConfigError("x" * 10**6))
    assert len(line) <= MAX_ERROR_LENGTH and "1,000,000 characters" in line


# --------------------------------------------------------------------------- model folders never run code


@pytest.fixture()
def code_folder(tiny_path, tmp_path) -> tuple[Path, Path]:
    """The tiny model's folder, made to name its own modelling code (auto_map) for an unknown architecture, with a
    ``.py`` file that would create a marker if it ran."""
    folder, marker = tmp_path / "custom", tmp_path / "RAN"
    shutil.copytree(tiny_path, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="custom_arch", auto_map={"AutoConfig": "custom.Config", "AutoModelForCausalLM": "custom.M"}
    )
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return folder, marker


def test_a_model_folder_with_code_is_refused_without_a_prompt(code_folder, monkeypatch, capsys):
    folder, marker = code_folder
    asked: list[tuple] = []  # transformers' "Do you wish to run the custom code? [y/N]", answered as a user might
    monkeypatch.setattr(builtins, "input", lambda *args: asked.append(args) or "y")
    with pytest.raises(ValueError, match="trust_remote_code"):
        _model(str(folder))
    assert not asked and not marker.exists()
    argv = ["--model", str(folder), "--env", "ALFWorld-text-v0", "--tasks", "1", "--max-episode-steps", "2"]
    assert eval_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never runs code from a model folder" in err
    assert not marker.exists()


def test_every_from_pretrained_in_the_library_turns_remote_code_off():
    root = Path(__file__).resolve().parents[1]
    calls = []
    for folder in ("trainer", "wrappers", "gigpo_gym", "benchmarks", "tests"):
        for path in sorted((root / folder).rglob("*.py")):
            text = path.read_text()
            # a call with its arguments (one level of nested parentheses); a docstring's ``...`` example is no call
            calls += [
                (path.name, m[0])
                for m in re.finditer(r"\.from_pretrained\((?:[^()]|\([^()]*\))*\)", text)
                if text[m.end() : m.end() + 2] != "``"
            ]
    assert calls and all("trust_remote_code=False" in call for _, call in calls), calls


# --------------------------------------------------------------------------- checkpoint content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["arguments"].pop("estimator"), r"lacks the settings \['estimator'\]"),
        (lambda m: m["arguments"]["policy_kwargs"].pop("action_mode"), r"policy_kwargs.action_mode"),
        (
            lambda m: m["arguments"]["policy_kwargs"].update(score_chunks=4),
            r"has unknown policy settings \['score_chunks'\]",
        ),
        (lambda m: m["counters"].update(num_timesteps=-5), "num_timesteps must be an integer in"),
        (lambda m: m["counters"].update(n_updates=1.5), "n_updates must be an integer in"),
        (lambda m: m["episodes"].update(success=[True] * 101), "at most stats_window_size"),
        (lambda m: m.pop("base_model"), r"missing \['base_model'\]"),
        (lambda m: m["base_model"].update(identity=7), "base_model must hold"),
    ],
)
def test_checkpoint_settings_are_never_filled_in_or_taken_unchecked(saved, tmp_path, change, message):
    with pytest.raises(CheckpointError, match=message):
        GiGPO.load(_with_meta(saved, tmp_path / "edited.zip", change))


def test_a_missing_setting_can_be_given_explicitly(saved, tmp_path):
    edited = _with_meta(saved, tmp_path / "edited.zip", lambda m: m["arguments"].pop("estimator"))
    assert GiGPO.load(edited, estimator="grpo").estimator == "grpo"


def test_weights_of_another_dtype_are_refused(saved, tmp_path):
    items = _items(saved)
    tensors = load_safetensors(items[POLICY])
    name = sorted(k for k in tensors if tensors[k].is_floating_point())[-1]
    tensors[name] = tensors[name].to(torch.float16)
    items[POLICY] = save_safetensors(tensors)
    with pytest.raises(CheckpointError, match=rf"policy tensor '{re.escape(name)}' is torch.float16 .*torch.float32"):
        GiGPO.load(_write(tmp_path / "half.zip", items))


def test_a_lora_checkpoint_without_its_adapter_is_refused(tiny_path, tmp_path):
    path = _model(tiny_path, use_lora=True).save(tmp_path / "lora")
    items = _items(path)
    tensors = load_safetensors(items[POLICY])
    assert any(k.startswith("adapter.") for k in tensors)
    items[POLICY] = save_safetensors({k: v for k, v in tensors.items() if not k.startswith("adapter.")} or {})
    with pytest.raises(CheckpointError, match=r"do not match the model: missing \['adapter\."):
        GiGPO.load(_write(tmp_path / "no-adapter.zip", items))


def test_another_base_model_is_refused_unless_allowed(tiny_path, tmp_path):
    folder = tmp_path / "base"
    shutil.copytree(tiny_path, folder)
    path = _model(str(folder), use_lora=True).save(tmp_path / "agent")
    assert GiGPO.load(path).base_model_identity == json.loads(_items(path)[META])["base_model"]["identity"]
    weights = next(folder.glob("*.safetensors"))
    tensors = load_file(weights)
    name = sorted(k for k in tensors if "layers.0" in k and tensors[k].is_floating_point())[0]
    tensors[name] = tensors[name] + 1e-3  # a fine-tuned base: the same architecture, other weights
    save_file(tensors, weights, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="was trained on another base model") as caught:
        GiGPO.load(path)
    assert "\n" not in str(caught.value)
    assert GiGPO.load(path, allow_base_model_change=True).num_timesteps == 0


# --------------------------------------------------------------------------- action parsing in linear time

_WEBSHOP_ACTION = re.compile(r"(.+)\[(.+)\]")  # WebShop's own expression, which backtracks quadratically


@given(st.text(alphabet="ab[] \n", max_size=14))
def test_webshop_parsing_matches_the_original_expression(action):
    match = _WEBSHOP_ACTION.match(action)
    assert webshop_parse(action) == ((action, None) if match is None else (match[1], match[2].lower()))


_ACTION_BLOCK = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)


@given(st.lists(st.sampled_from(["<action>", "</action>", "<ACTION>", "</Action>", "a", " ", "\n", "<"]), max_size=8))
def test_agent_parsing_matches_the_first_action_block(parts):
    text = "".join(parts)
    found = _ACTION_BLOCK.search(text)
    assert agent_parse(text) == ((found[1].strip().lower() or None) if found else None)


@pytest.mark.parametrize(
    "action", ["[" * 200_000, "search[" + "[" * 200_000, "x[" * 100_000 + "]", "click[" + "]" * 200_000]
)
def test_a_long_webshop_action_is_parsed_and_stepped_quickly(action):
    import gymnasium as gym

    env = gym.make("WebShop-text-v0")
    env.reset(options={"task_id": 0})
    start = time.perf_counter()
    webshop_parse(action)
    env.step(action)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text", ["<action>" * 25_000, "<think>" * 25_000 + "<action>look</action>"])
def test_a_long_response_is_parsed_quickly(text):
    start = time.perf_counter()
    project_action(text, ["look"], "format")
    assert time.perf_counter() - start < 0.5


def test_a_long_alfworld_action_is_stepped_quickly():
    import gymnasium as gym

    env = gym.make("ALFWorld-text-v0")
    env.reset(options={"task_id": 0})
    start = time.perf_counter()
    for action in ("[" * 200_000, " " * 200_000 + "look", "go to " * 40_000):
        env.step(action)
    assert time.perf_counter() - start < 0.5


# --------------------------------------------------------------------------- settings that size the work


def test_a_saved_config_cannot_ask_for_endless_episodes_or_catalogs(saved, tmp_path, capsys):
    from trainer.training import saved_run

    config = resolve_config("cpu-quickstart").to_dict()
    for change, message in (
        ({"max_episode_steps": 10**9}, r"max_episode_steps must be an integer in \[1, 10000\]"),
        (
            {"env": "WebShop-text-v0", "eval_split": "test", "env_kwargs": {"n_products": 10**9}},
            "n_products must be at most 100,000",
        ),
    ):
        run = {"rounds_done": 1, "config": {**config, **change}}
        path = _with_meta(saved, tmp_path / "run.zip", lambda m, run=run: m["extra"].update(run=run))
        if "max_episode_steps" in change:
            with pytest.raises(CheckpointError, match=message):
                saved_run(path)
        assert eval_cli.main(["--checkpoint", str(path), "--tasks", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err), err


def test_a_version_1_checkpoint_loads_with_only_the_settings_added_since_filled(saved, tmp_path):
    def version_1(meta):
        meta["version"] = 1
        meta.pop("base_model")
        for name in ("gae_lambda", "vf_coef", "clip_range_vf"):
            meta["arguments"].pop(name)
        for name in ("dtype", "attn_implementation", "score_chunk"):
            meta["arguments"]["policy_kwargs"].pop(name)

    model = GiGPO.load(_with_meta(saved, tmp_path / "v1.zip", version_1))
    assert (model.gae_lambda, model.policy.dtype, model.policy.score_chunk) == (0.95, "float32", 16)

    def without_estimator(meta):
        version_1(meta)
        meta["arguments"].pop("estimator")

    with pytest.raises(CheckpointError, match=r"lacks the settings \['estimator'\]"):
        GiGPO.load(_with_meta(saved, tmp_path / "v1-lacking.zip", without_estimator))


def test_a_resume_refuses_settings_that_differ_from_the_runs_own_config(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "run"
    sets = ["n_groups=2", "group_size=2", "max_episode_steps=3", "eval_tasks=1", "batch_size=8", "micro_batch_size=4"]
    flags = [a for item in sets for a in ("--set", item)]
    base = ["--model", tiny_path, "--rounds", "1", "--run-dir", str(run_dir), "--no-progress", *flags]
    assert train_cli.main(base) == 0
    resume = ["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]
    path = run_dir / "checkpoint.zip"
    original = path.read_bytes()
    _with_meta(path, path, lambda m: m["arguments"].update(estimator="rloo"))  # the run config says gigpo
    capsys.readouterr()
    assert train_cli.main(resume) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]  # (not the loading bar)
    assert len(errors) == 1 and "estimator 'rloo' (its config's algo 'gigpo')" in errors[0]
    path.write_bytes(original)
    assert train_cli.main(resume) == 0  # the run's own checkpoint agrees with its config
