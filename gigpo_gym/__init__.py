"""gigpo-gym: text environments for LLM agents; importing this package registers their Gymnasium ids."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

from gymnasium.envs.registration import EnvSpec, load_env_creator, register, registry

if TYPE_CHECKING:
    from .text_env import EnvCard

__version__ = "0.1.0"

ENV_IDS = ("ALFWorld-text-v0", "WebShop-text-v0")

__all__ = ["ENV_IDS", "env_card", "env_spec", "env_takes"]


def env_spec(env_id: str) -> EnvSpec:
    """The registered spec of ``env_id``; ``"pkg.module:Name-v0"`` first imports ``pkg.module`` (which registers
    ``Name-v0``), as ``gym.make`` does. An id that cannot be found is a ``ValueError`` saying why, on one line."""
    if not isinstance(env_id, str):
        raise ValueError(f"an env id is a string such as 'ALFWorld-text-v0', got {env_id!r}")
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except Exception as error:  # the user's module: whatever its import raises is reported, named, on one line
            raise ValueError(
                f"env {env_id!r}: cannot import module {module!r} ({type(error).__name__}: {error}); it must be "
                "importable here (installed, on PYTHONPATH, or a package in the current folder with python -m)"
            ) from error
    spec = registry.get(name)
    if spec is None:
        known = ", ".join(ENV_IDS)
        if module:
            raise ValueError(f"env {env_id!r}: module {module!r} registers no env {name!r} (gymnasium's register)")
        raise ValueError(
            f"unknown env id {env_id!r}; registered gigpo-gym envs: {known}; your own env: 'pkg.module:Name-v0' "
            "with a module that registers Name-v0"
        )
    return spec


def _entry_point(env_id: str) -> object:
    """What ``gym.make(env_id)`` calls (the env class or a factory), loaded without calling it."""
    entry_point = env_spec(env_id).entry_point
    return load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point


def env_card(env_id: str | None) -> EnvCard | None:
    """The :class:`~gigpo_gym.text_env.EnvCard` of a registered env id (or ``"pkg.module:Name-v0"``), read from
    its entry point's ``card`` attribute (the env class's, or a factory's) without building the env; ``None`` for
    ``None`` and for an env without a card. A built env carries the same card as ``env.unwrapped.card``."""
    from .text_env import EnvCard

    if env_id is None:
        return None
    card = getattr(_entry_point(env_id), "card", None)
    return card if isinstance(card, EnvCard) else None


def env_takes(env_id: str, argument: str) -> bool:
    """Whether ``gym.make(env_id, **{argument: ...})`` reaches a constructor that takes ``argument`` (by name, or
    through ``**kwargs``), read from the entry point's signature without building the env."""
    parameters = inspect.signature(_entry_point(env_id)).parameters.values()  # type: ignore[arg-type]
    return any(p.name == argument or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


if "ALFWorld-text-v0" not in registry:
    register(
        id="ALFWorld-text-v0",
        entry_point="gigpo_gym.alfworld.env:make_alfworld_env",
        max_episode_steps=50,
    )

if "WebShop-text-v0" not in registry:
    register(
        id="WebShop-text-v0",
        entry_point="gigpo_gym.webshop.env:make_webshop_env",
        max_episode_steps=15,
    )
