"""Data-only checkpoints: nothing in a file runs, every broken file is a named error, a load continues exactly."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from stable_baselines3.common.base_class import BaseAlgorithm

import gigpo_gym  # noqa: F401
from trainer.checkpoint import CheckpointError
from trainer.gigpo import GiGPO
from wrappers.group_env import GroupVecEnv

SMALL = dict(n_groups=2, group_size=2, batch_size=8, micro_batch_size=4, seed=3)
ENV_KWARGS = dict(max_episode_steps=3)


def make(tiny_path, env=None):
    env = env or GroupVecEnv("ALFWorld-text-v0", 2, 2, ENV_KWARGS, seed=3)
    return GiGPO(
        "LLMPolicy", env, policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False), learning_rate=1e-2, **SMALL
    )


class _Payload:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def saved(tiny_path, tmp_path_factory):
    """A model after one round and its checkpoint."""
    model = make(tiny_path)
    model.learn(1)
    path = model.save(tmp_path_factory.mktemp("ckpt") / "agent")
    return model, path


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as archive:
        items = {n: archive.read(n) for n in archive.namelist()}
    change(items)
    with zipfile.ZipFile(dst, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    return dst


def test_a_pickled_payload_never_runs_and_the_error_names_it(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "PWNED"
    pickled = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    payload = {":type:": "<class 'function'>", ":serialized:": pickled}
    # the probe's attack on a Stable-Baselines3 archive: a cloudpickled entry in its "data" JSON
    legacy = tmp_path / "legacy.zip"
    with zipfile.ZipFile(legacy, "w") as out:
        out.writestr("data", json.dumps({"lr_schedule": payload, "policy_class": payload}))
        out.writestr("policy.pth", b"")
    with pytest.raises(CheckpointError, match="pickled Stable-Baselines3 archive.*trust_legacy_pickle"):
        GiGPO.load(legacy)
    # the same payload smuggled into a data-only checkpoint, as an extra entry
    extra = _rewrite(path, tmp_path / "extra.zip", lambda items: items.update(data=json.dumps({"x": payload}).encode()))
    with pytest.raises(CheckpointError, match=r"unexpected \['data'\]"):
        GiGPO.load(extra)
    assert not marker.exists()


def test_legacy_archives_load_only_when_trusted(saved, tmp_path):
    model, _ = saved
    legacy = tmp_path / "old.zip"
    BaseAlgorithm.save(model, legacy, exclude=["prompt_builder", "_sample_generator", "_shuffle_rng"])
    with pytest.raises(CheckpointError, match="can run code"):
        GiGPO.load(legacy)
    trusted = GiGPO.load(legacy, trust_legacy_pickle=True, device="cpu")
    for key, value in model.policy.state_dict().items():
        assert torch.equal(trusted.policy.state_dict()[key], value), key


def _poison_policy(name_change):
    def change(items):
        tensors = load_safetensors(items["policy.safetensors"])
        name_change(tensors)
        items["policy.safetensors"] = save_safetensors(tensors)

    return change


def _last(tensors):
    return sorted(k for k in tensors if tensors[k].is_floating_point())[-1]


def _edit_meta(change):
    def apply(items):
        meta = json.loads(items["checkpoint.json"])
        change(meta)
        items["checkpoint.json"] = json.dumps(meta).encode()

    return apply


CORRUPTIONS = {
    "empty": (lambda raw: b"", "not a readable zip"),
    "text": (lambda raw: b"hello, not a zip\n" * 10, "not a readable zip"),
    "truncated half": (lambda raw: raw[: len(raw) // 2], "not a readable zip|cannot be read"),
    "truncated tail": (lambda raw: raw[:-22], "not a readable zip|cannot be read"),
    "bit flip": (lambda raw: raw[:4000] + bytes([raw[4000] ^ 0xFF]) + raw[4001:], "CRC|corrupt|not a readable"),
}
EDITS = {
    "bad json": (lambda items: items.update({"checkpoint.json": b"{not json"}), "not valid JSON"),
    "json list": (lambda items: items.update({"checkpoint.json": b"[1, 2]"}), "JSON object"),
    "nan in json": (
        lambda items: items.update(
            {"checkpoint.json": items["checkpoint.json"].replace(b'"gamma": 0.95', b'"gamma": NaN')}
        ),
        "not valid JSON",
    ),
    "wrong format": (
        lambda items: items.update(
            {"checkpoint.json": items["checkpoint.json"].replace(b"gigpo-gym-checkpoint", b"other")}
        ),
        "format is 'other'",
    ),
    "no policy": (lambda items: items.pop("policy.safetensors"), r"missing \['policy.safetensors'\]"),
    "garbage policy": (
        lambda items: items.update({"policy.safetensors": b"\x80\x04garbage"}),
        "not a valid safetensors",
    ),
    "missing tensor": (_poison_policy(lambda t: t.pop(_last(t))), r"do not match the model: missing \['"),
    "wrong shape": (_poison_policy(lambda t: t.update({_last(t): torch.zeros(3, 3)})), r"of shape \(3, 3\); the model"),
    "nan weights": (_poison_policy(lambda t: t[_last(t)].view(-1).__setitem__(0, float("nan"))), "NaN or infinite"),
    "unknown argument": (
        lambda items: items.update(
            {"checkpoint.json": items["checkpoint.json"].replace(b'"gamma":', b'"tensorboard_log": "../x", "gamma":')}
        ),
        "unknown constructor arguments",
    ),
    "missing model": (
        _edit_meta(lambda m: m["arguments"]["policy_kwargs"].update(model_name_or_path="/no/such/m")),
        "names a model that cannot be loaded here: model path '/no/such/m' does not exist",
    ),
    "no observation space": (_edit_meta(lambda m: m["spaces"].pop("observation")), "no entry 'observation'"),
    "bad argument": (
        lambda items: items.update(
            {"checkpoint.json": items["checkpoint.json"].replace(b'"batch_size": 8', b'"batch_size": 0')}
        ),
        "batch_size must be an integer >= 1",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_files_are_named_errors(saved, tmp_path, case):
    cut, message = CORRUPTIONS[case]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(cut(saved[1].read_bytes()))
    with pytest.raises(CheckpointError, match=message):
        GiGPO.load(bad)


@pytest.mark.parametrize("case", sorted(EDITS))
def test_edited_checkpoints_are_named_errors(saved, tmp_path, case):
    change, message = EDITS[case]
    with pytest.raises(CheckpointError, match=message):
        GiGPO.load(_rewrite(saved[1], tmp_path / "bad.zip", change))


def test_a_missing_file_and_a_saved_space_mismatch_are_named(saved, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        GiGPO.load(tmp_path / "nope.zip")
    webshop = GroupVecEnv("WebShop-text-v0", 2, 2)
    with pytest.raises(CheckpointError, match="spaces"):
        GiGPO.load(saved[1], env=webshop)


def test_load_continues_the_run_exactly(tiny_path, tmp_path):
    """Two rounds straight equal one round, save, load with a fresh env, one round: weight for weight."""
    straight = make(tiny_path)
    straight.learn(1)
    straight.learn(1, reset_num_timesteps=False)
    first = make(tiny_path)
    first.learn(1)
    path = first.save(tmp_path / "one")
    del first
    torch.manual_seed(1234)  # the load must restore every generator, whatever ran in between
    np.random.seed(99)
    resumed = GiGPO.load(path, env=GroupVecEnv("ALFWorld-text-v0", 2, 2, ENV_KWARGS, seed=77), device="cpu")
    resumed.learn(1, reset_num_timesteps=False)
    assert resumed.num_timesteps == straight.num_timesteps and resumed._n_updates == straight._n_updates
    a, b = straight.policy.state_dict(), resumed.policy.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    sa, sb = straight.policy.optimizer.state_dict()["state"], resumed.policy.optimizer.state_dict()["state"]
    for index in sa:
        for key in sa[index]:
            assert torch.equal(torch.as_tensor(sa[index][key]), torch.as_tensor(sb[index][key])), (index, key)
    episodes = [[(e["r"], e["l"]) for e in m.ep_info_buffer] for m in (straight, resumed)]  # "t" is wall time
    assert episodes[0] == episodes[1] and len(episodes[0]) == 8


def test_save_writes_only_data_and_no_temporary_file(saved):
    _, path = saved
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["checkpoint.json", "policy.safetensors", "state.safetensors"]
        meta = json.loads(archive.read("checkpoint.json"))
    assert meta["arguments"]["n_groups"] == 2 and "tensorboard_log" not in meta["arguments"]
    assert meta["aliases"]  # the tiny model ties its LM head to the embeddings: stored once
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
