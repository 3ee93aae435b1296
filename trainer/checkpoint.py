"""Checkpoints that hold only data: tensors in safetensors, everything else in JSON, in one zip written atomically.

``checkpoint.zip`` holds exactly three entries:

- ``checkpoint.json``: the format name and version, the algorithm's constructor arguments (``arguments``, every
  one of them and of its policy), its spaces, counters and episode statistics, every random generator's state
  (``rng``), the base model's name and identity (``base_model``, :func:`base_model_identity`), and a caller's
  ``extra`` data (``gigpo-train`` keeps the run's config and round count there, so that one file commits a round);
- ``policy.safetensors``: the policy's state dict (tensors sharing storage, e.g. tied embeddings, are stored once
  and named in ``checkpoint.json``'s ``aliases``);
- ``state.safetensors``: the optimiser's tensors and the torch generator states.

Loading never unpickles anything and never executes code from the file: JSON is parsed, tensors are read by
safetensors, every name is checked against an allow-list, and the constructor arguments are checked by the
constructors themselves. Nothing read from a checkpoint is used as a path to write to. Reading costs no more than
the file's size: entries are stored uncompressed, and a compressed or duplicate entry, a zip flag or a declared size
the file cannot hold is refused before anything is read (:func:`_check_entries`). Version 1 files (without
``base_model``) still load. Stable-Baselines3's own
archives (a pickled ``data`` entry: what gigpo-gym 0.1 wrote) are refused with a :class:`CheckpointError`
unless the caller trusts the file (``trust_legacy_pickle=True``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import random
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import atomic_path
from .errors import DivergenceError, shown

__all__ = [
    "FORMAT",
    "VERSION",
    "Archive",
    "CheckpointError",
    "base_model_identity",
    "build_space",
    "check_counters",
    "check_tensors",
    "describe_space",
    "generator_states",
    "is_legacy",
    "optimizer_state",
    "read_archive",
    "read_meta",
    "restore_generators",
    "write_archive",
]

FORMAT = "gigpo-gym-checkpoint"
VERSION = 2  # 2: every constructor argument is saved, and the base model's identity (``base_model``)
READS = (1, 2)
META, POLICY, STATE = "checkpoint.json", "policy.safetensors", "state.safetensors"
ENTRIES = frozenset({META, POLICY, STATE})
META_KEYS = frozenset(
    {
        "format",
        "version",
        "algorithm",
        "arguments",
        "spaces",
        "counters",
        "episodes",
        "rng",
        "aliases",
        "optimizer",
        "extra",
        "base_model",
    }
)
_META_KEYS_V1 = META_KEYS - {"base_model"}


# what reading a checkpoint may cost is bounded by the file's own size: its entries are stored uncompressed (as
# write_archive stores them), so no entry inflates, and each is read (into memory or the scratch folder) no further
# than its declared size, which the whole file must hold
META_MAX_BYTES = 64 << 20  # checkpoint.json: settings, counters, generator states (a few hundred KB)
_READ_CHUNK = 1 << 20
_UTF8_NAMES = 0x800  # the only zip flag a checkpoint's entry may carry (bit 11: the name is UTF-8)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: not a zip, truncated, corrupt, pickled, or holding unexpected data."""


class Archive:
    """The parsed content of a checkpoint: ``meta`` (``checkpoint.json``) and two dicts of tensors."""

    def __init__(self, meta: dict[str, Any], policy: dict[str, torch.Tensor], state: dict[str, torch.Tensor]):
        self.meta, self.policy, self.state = meta, policy, state


def _unique_tensors(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors with one name per storage view, and ``alias -> kept name`` for the others (safetensors refuses
    shared storage; a tied LM head is the embedding matrix under a second name)."""
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, tensor in tensors.items():
        key = (
            tensor.device,
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
            tensor.dtype,
        )
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
        else:
            seen[key] = name
            kept[name] = tensor.detach().contiguous().cpu()
    return kept, aliases


def write_archive(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    policy: dict[str, torch.Tensor],
    state: dict[str, torch.Tensor],
) -> Path:
    """Write ``checkpoint.zip`` atomically: a temp file in the same folder, renamed into place (a kill at any
    moment leaves the previous file whole). ``meta`` must be JSON data; returns the path written.

    A NaN or infinite weight or optimiser value is refused (:class:`~trainer.errors.DivergenceError`) before
    anything is written: a diverged model never replaces the checkpoint it came from."""
    path = Path(path)
    for kind, tensors_of_kind in (("policy", policy), ("optimiser or generator", state)):
        for name, tensor in tensors_of_kind.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor.detach()).all()):
                raise DivergenceError(f"{path} not written: its {kind} tensor {name!r} holds NaN or infinite values")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors, aliases = _unique_tensors(policy)
    meta = {"format": FORMAT, "version": VERSION, **meta, "aliases": aliases}
    unknown = set(meta) - META_KEYS
    if unknown:
        raise ValueError(f"checkpoint metadata has keys outside the format: {sorted(unknown)}")
    text = json.dumps(meta, allow_nan=False)  # fails here, not at load time, on data JSON cannot hold
    with atomic_path(path) as tmp:  # the archive's parts are written beside it, in the same scratch folder
        scratch = tmp.parent
        save_file(tensors, os.path.join(scratch, POLICY))
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, os.path.join(scratch, STATE))
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(META, text)
            archive.write(os.path.join(scratch, POLICY), POLICY)
            archive.write(os.path.join(scratch, STATE), STATE)
    return path


def legacy_message(path: Path) -> str:
    return (
        f"{path} is a pickled Stable-Baselines3 archive (the format of gigpo-gym 0.1), which can run code when "
        "loaded; this version loads only data-only checkpoints. If you trust where the file comes from, load it "
        "with GiGPO.load(path, trust_legacy_pickle=True) (gigpo-eval --trust-legacy-checkpoint) and save it again"
    )


def is_legacy(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an SB3 pickled archive (a ``data`` entry and no ``checkpoint.json``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return "data" in names and META not in names


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[tuple[Path, zipfile.ZipFile, set[str]]]:
    """The checkpoint zip, open, with its entry names; a missing, pickled or unreadable file is a CheckpointError.

    Every entry read inside the block is checked against its CRC by ``zipfile`` as it is read."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file (e.g. {path / 'checkpoint.zip'})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "data" in names and META not in names:
                raise CheckpointError(legacy_message(path))
            _check_entries(path, archive)
            yield path, archive, names
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"{path} is not a readable zip file (empty, truncated or corrupt): {error}") from error
    except (OSError, EOFError) as error:  # a truncated member
        raise CheckpointError(f"{path} cannot be read (truncated or corrupt): {error}") from error


def _check_entries(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse what the writer never makes: an entry name twice (the last would win), compression (a small file could
    inflate to gigabytes), zip flags (encryption, data descriptors ...), or declared sizes the file cannot hold."""
    infos = archive.infolist()
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            raise CheckpointError(f"{path} holds the entry {name!r} twice; a checkpoint holds each entry once")
        seen.add(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path}: entry {name!r} is compressed (zip method {info.compress_type}); checkpoints store their "
                "entries uncompressed"
            )
        if info.flag_bits & ~_UTF8_NAMES:
            raise CheckpointError(
                f"{path}: entry {name!r} carries zip flags {info.flag_bits:#x}; a checkpoint sets none"
            )
        if info.file_size != info.compress_size:
            raise CheckpointError(
                f"{path}: entry {name!r} declares {info.file_size:,} bytes stored in {info.compress_size:,}"
            )
    size = path.stat().st_size
    if sum(info.compress_size for info in infos) > size:
        raise CheckpointError(f"{path}: its entries declare more bytes than the file's {size:,} (corrupt)")
    if META in seen and archive.getinfo(META).file_size > META_MAX_BYTES:
        raise CheckpointError(
            f"{path}: {META} declares {archive.getinfo(META).file_size:,} bytes; at most {META_MAX_BYTES:,} are read"
        )


def _copy_entry(path: Path, archive: zipfile.ZipFile, name: str, target: BinaryIO) -> None:
    """Copy entry ``name`` to ``target`` in chunks, never past its declared size (the CRC is checked at its end)."""
    declared = archive.getinfo(name).file_size
    copied = 0
    with archive.open(name) as entry:
        while chunk := entry.read(min(_READ_CHUNK, declared - copied + 1)):
            copied += len(chunk)
            if copied > declared:
                raise CheckpointError(f"{path}: entry {name!r} holds more than its declared {declared:,} bytes")
            target.write(chunk)


def _read_entry(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    buffer = io.BytesIO()
    _copy_entry(path, archive, name, buffer)
    return buffer.getvalue()


def read_archive(path: str | os.PathLike[str]) -> Archive:
    """Read and check a checkpoint; every problem is a :class:`CheckpointError` that names it."""
    with _opened(path) as (path, archive, names):
        if names != ENTRIES:
            missing, extra = sorted(ENTRIES - names), sorted(names - ENTRIES)
            raise CheckpointError(
                f"{path} is not a gigpo-gym checkpoint: entries {sorted(names)} (missing {missing}, unexpected "
                f"{extra}; expected exactly {sorted(ENTRIES)})"
            )
        meta = _parse_meta(path, _read_entry(path, archive, META))
        with tempfile.TemporaryDirectory() as scratch:
            for name in (POLICY, STATE):
                with open(os.path.join(scratch, name), "xb") as target:
                    _copy_entry(path, archive, name, target)
            policy = _load_tensors(path, os.path.join(scratch, POLICY))
            state = _load_tensors(path, os.path.join(scratch, STATE))
    for alias, name in meta["aliases"].items():
        if name not in policy:
            raise CheckpointError(f"{path}: alias {alias!r} names a tensor that is not stored ({name!r})")
        policy[alias] = policy[name]
    for name, tensor in policy.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: policy tensor {name!r} holds NaN or infinite values")
    return Archive(meta, policy, state)


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Only ``checkpoint.json`` of a checkpoint (checked as :func:`read_archive` checks it), without its tensors."""
    with _opened(path) as (path, archive, names):
        if META not in names:
            raise CheckpointError(f"{path} is not a gigpo-gym checkpoint: no {META}")
        return _parse_meta(path, _read_entry(path, archive, META))


def _parse_meta(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: {META} is not valid JSON ({error})") from error
    except RecursionError as error:
        raise CheckpointError(f"{path}: {META} is nested too deeply") from error
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: {META} must hold a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: {META} format is {meta.get('format')!r}, expected {FORMAT!r}")
    version = meta.get("version")
    if isinstance(version, bool) or version not in READS:
        raise CheckpointError(f"{path}: checkpoint version {shown(version)}; this code reads {READS}")
    keys = META_KEYS if version == VERSION else _META_KEYS_V1
    unknown, missing = set(meta) - keys, keys - set(meta)
    if unknown or missing:
        raise CheckpointError(f"{path}: {META} keys unexpected {sorted(unknown)}, missing {sorted(missing)}")
    if not isinstance(meta["aliases"], dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta["aliases"].items()
    ):
        raise CheckpointError(f"{path}: {META} aliases must map names to names")
    if version == VERSION and not (
        isinstance(meta["base_model"], dict)
        and set(meta["base_model"]) == {"name", "identity"}
        and all(isinstance(v, str) for v in meta["base_model"].values())
    ):
        raise CheckpointError(f"{path}: {META} base_model must hold the model's name and identity as text")
    return meta


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON data")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _load_tensors(path: Path, file: str) -> dict[str, torch.Tensor]:
    try:
        return load_file(file)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: {os.path.basename(file)} is not a valid safetensors file ({error})") from error


# ---------------------------------------------------------------------- what a checkpoint's content must match


def check_tensors(
    path: str | os.PathLike[str], expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]
) -> None:
    """Refuse policy tensors that are not exactly the model's: a name missing (a LoRA checkpoint without its adapter
    would load an untrained one) or unknown, another shape, or another dtype (cast on load, not the weights saved)."""
    missing, unknown = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unknown:
        raise CheckpointError(
            f"{path}: the policy tensors do not match the model: missing {shown(missing, 200)}, unknown "
            f"{shown(unknown, 200)}"
        )
    for name in sorted(expected):
        want, got = expected[name], found[name]
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            raise CheckpointError(
                f"{path}: policy tensor {name!r} is {got.dtype} of shape {tuple(got.shape)}; the model's is "
                f"{want.dtype} of shape {tuple(want.shape)}"
            )


def check_counters(path: str | os.PathLike[str], counters: Any, episodes: Any, window: Any) -> None:
    """Refuse counters and episode statistics that are not what :meth:`GiGPO.save` writes: non-negative integers
    below 2**63, a number for the progress, lists of episodes no longer than the statistics window (1 to 10**6)."""
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 10**6:
        raise CheckpointError(f"{path}: stats_window_size must be an integer in [1, 10**6], got {shown(window)}")
    if not isinstance(counters, dict) or not isinstance(episodes, dict):
        raise CheckpointError(f"{path}: {META} counters and episodes must be objects")
    for name in ("num_timesteps", "n_updates", "episode_num"):
        value = counters.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise CheckpointError(f"{path}: counter {name} must be an integer in [0, 2**63), got {shown(value)}")
    progress = counters.get("progress_remaining")
    if isinstance(progress, bool) or not isinstance(progress, int | float):
        raise CheckpointError(f"{path}: counter progress_remaining must be a number, got {shown(progress)}")
    info, success = episodes.get("info"), episodes.get("success")
    if not isinstance(info, list) or not isinstance(success, list) or max(len(info), len(success)) > window:
        raise CheckpointError(
            f"{path}: episodes must hold lists of at most stats_window_size ({window}) entries in info and success"
        )
    for item in info:
        if not (
            isinstance(item, dict)
            and set(item) == {"r", "l", "t"}
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in item.values())
        ):
            raise CheckpointError(f"{path}: an episode entry must be numbers r, l and t, got {shown(item)}")
    if not all(isinstance(item, bool) for item in success):
        raise CheckpointError(f"{path}: episode successes must be true or false")


def base_model_identity(model: torch.nn.Module, tokenizer: Any) -> str:
    """A fingerprint of a freshly loaded base model (call it before any update): every weight's name, shape and
    dtype, 256 of its values spread over it, and the tokenizer's size and chat template. A checkpoint records it,
    so that loading it over another model (a folder that was replaced, a hub id that moved) is refused.

    Sampled rather than hashed whole, so that it costs milliseconds on a 7B model; any fine-tuning or other
    checkpoint changes almost every value, so a sample of each tensor tells them apart. LoRA's adapter tensors
    (``lora_``) are the checkpoint's own and are left out."""
    digest = hashlib.blake2b(digest_size=16)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if "lora_" in name:
                continue
            flat = tensor.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 256)][:256]
            values = sample.float() if sample.is_floating_point() else sample.long()
            digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
            digest.update(values.cpu().numpy().tobytes())
    template = getattr(tokenizer, "chat_template", None)
    digest.update(f"tokenizer|{len(tokenizer)}|{template if isinstance(template, str) else ''}".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------- spaces and random generators as data


def describe_space(space: Any) -> dict[str, Any]:
    """JSON of a text space (``Text``, or ``Dict`` of them): what a checkpoint needs to rebuild it."""
    from gymnasium import spaces

    from gigpo_gym.spaces import AnyText

    if isinstance(space, AnyText):
        return {"type": "any_text", "min_length": space.min_length, "max_length": space.max_length}
    if isinstance(space, spaces.Text):
        return {
            "type": "text",
            "min_length": space.min_length,
            "max_length": space.max_length,
            "charset": "".join(sorted(space.character_set)),
        }
    if isinstance(space, spaces.Dict):
        return {"type": "dict", "spaces": {k: describe_space(v) for k, v in space.spaces.items()}}
    raise ValueError(f"cannot save space {space}: only Text spaces and Dicts of them are text-env spaces")


def build_space(data: Any) -> Any:
    """The space :func:`describe_space` described; a malformed description is a :class:`CheckpointError`."""
    from gymnasium import spaces

    from gigpo_gym.spaces import AnyText

    try:
        kind = data["type"]
        if kind == "any_text":
            return AnyText(max_length=int(data["max_length"]), min_length=int(data["min_length"]))
        if kind == "text":
            return spaces.Text(
                max_length=int(data["max_length"]), min_length=int(data["min_length"]), charset=str(data["charset"])
            )
        if kind == "dict":
            return spaces.Dict({str(k): build_space(v) for k, v in data["spaces"].items()})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"malformed space description {data!r} ({error!r})") from error
    raise CheckpointError(f"unknown space type in checkpoint: {data!r}")


def generator_states(sample: torch.Generator, shuffle: np.random.Generator) -> tuple[dict, dict[str, torch.Tensor]]:
    """JSON and tensors that restore the given generators and the global ones (Python, NumPy, torch, CUDA)."""
    legacy = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    data = {
        "shuffle": shuffle.bit_generator.state,
        "numpy": {**legacy, "state": {"key": legacy["state"]["key"].tolist(), "pos": int(legacy["state"]["pos"])}},
        "python": [version, list(internal), gauss],
    }
    tensors = {"rng.sample": sample.get_state(), "rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return data, tensors


def restore_generators(
    data: dict[str, Any], tensors: dict[str, torch.Tensor], sample: torch.Generator, shuffle: np.random.Generator
) -> None:
    """Set the generators (and the global ones) to the states :func:`generator_states` recorded."""
    try:
        shuffle.bit_generator.state = data["shuffle"]
        numpy_state = dict(data["numpy"])
        numpy_state["state"] = {
            "key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32),
            "pos": int(numpy_state["state"]["pos"]),
        }
        np.random.set_state(numpy_state)
        version, internal, gauss = data["python"]
        random.setstate((version, tuple(internal), gauss))
        sample.set_state(tensors["rng.sample"])
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"the checkpoint's random generator states are malformed ({error!r})") from error
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# ---------------------------------------------------------------------- the optimiser's state

# the settings that change what an AdamW step does: the library's own always apply; a checkpoint's are checked only
OPTIMIZER_FLAGS = ("betas", "eps", "weight_decay", "amsgrad", "maximize")


def optimizer_state(
    path: str | os.PathLike[str], meta: Any, tensors: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """The ``state_dict`` to load into ``optimizer`` (the loaded model's fresh AdamW) from a checkpoint's
    ``optimizer`` metadata and ``optim.{index}.{key}`` tensors; what does not fit is a :class:`CheckpointError`.

    The parameter groups are ``optimizer``'s own: ``lr`` comes from the model's arguments, and a file whose
    :data:`OPTIMIZER_FLAGS` differ from the library's (a saved ``maximize: true`` would turn training into gradient
    ascent) is refused. Each parameter's state holds exactly AdamW's moments and step: finite, the moments of the
    parameter's shape (the second ones not negative), the step a whole number >= 0.
    """
    own = optimizer.state_dict()["param_groups"]
    _check_param_groups(path, meta, own)
    params = [param for group in optimizer.param_groups for param in group["params"]]
    expected = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if own[0]["amsgrad"] else set())
    state_keys = meta.get("state_keys")
    if not isinstance(state_keys, dict):
        raise CheckpointError(f"{path}: its optimizer's state_keys must map parameter indices to state names")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for index, keys in state_keys.items():
        if not (index.isascii() and index.isdigit() and str(int(index)) == index and int(index) < len(params)):
            raise CheckpointError(f"{path}: its optimizer holds state of parameter {index[:20]!r} of {len(params)}")
        if not isinstance(keys, list) or len(keys) != len(expected) or set(keys) != expected:
            raise CheckpointError(
                f"{path}: its optimizer state of parameter {index} names {str(keys)[:120]}, not {sorted(expected)}"
            )
        state[int(index)] = {
            key: _optimizer_tensor(path, f"optim.{index}.{key}", tensors, params[int(index)]) for key in keys
        }
    return {"state": state, "param_groups": own}


def _check_param_groups(path: str | os.PathLike[str], meta: Any, own: list[dict[str, Any]]) -> None:
    """The saved parameter groups name the model's parameters and the library's :data:`OPTIMIZER_FLAGS`."""
    saved_groups = meta.get("param_groups") if isinstance(meta, dict) else None
    if not isinstance(saved_groups, list) or not all(isinstance(group, dict) for group in saved_groups):
        raise CheckpointError(f"{path}: its optimizer entry must hold a list of param_groups")
    if len(saved_groups) != len(own):
        raise CheckpointError(f"{path}: its optimizer has {len(saved_groups)} param_groups, the model {len(own)}")
    for index, (saved, group) in enumerate(zip(saved_groups, own, strict=True)):
        if saved.get("params") != group["params"]:
            raise CheckpointError(
                f"{path}: its optimizer's param_groups[{index}] holds parameters {str(saved.get('params'))[:80]}, "
                f"not the model's {len(group['params'])}"
            )
        for flag in OPTIMIZER_FLAGS:
            ours = list(group[flag]) if isinstance(group[flag], tuple) else group[flag]
            if flag in saved and saved[flag] != ours:
                raise CheckpointError(
                    f"{path}: its optimizer's {flag} is {str(saved[flag])[:80]}; this library's AdamW uses {ours!r} "
                    "(a checkpoint cannot change it)"
                )


def _optimizer_tensor(
    path: str | os.PathLike[str], name: str, tensors: dict[str, torch.Tensor], param: torch.Tensor
) -> torch.Tensor:
    """The state tensor ``name`` of ``param``, checked: a step is a whole number >= 0, a moment has the
    parameter's shape (a second moment >= 0), every value finite."""
    tensor = tensors.get(name)
    if tensor is None:
        raise CheckpointError(f"{path}: the optimizer tensor {name!r} is missing")
    key = name.rsplit(".", 1)[1]
    shape = () if key == "step" else tuple(param.shape)
    if not tensor.is_floating_point() or tuple(tensor.shape) != shape:
        raise CheckpointError(
            f"{path}: the optimizer tensor {name!r} is {tensor.dtype} of shape {tuple(tensor.shape)}; "
            f"expected a float tensor of shape {shape}"
        )
    if not bool(torch.isfinite(tensor).all()):
        raise CheckpointError(f"{path}: the optimizer tensor {name!r} holds NaN or infinite values")
    if key == "step" and not (float(tensor) >= 0 and float(tensor).is_integer()):
        raise CheckpointError(f"{path}: the optimizer's step {name!r} is {float(tensor)}, not a whole number >= 0")
    if key.endswith("exp_avg_sq") and bool((tensor < 0).any()):
        raise CheckpointError(f"{path}: the optimizer tensor {name!r} holds negative second moments")
    return tensor
