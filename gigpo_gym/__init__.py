"""gigpo-gym: text environments for LLM agents; importing this package registers their Gymnasium ids."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from gymnasium.envs.registration import register, registry

if TYPE_CHECKING:
    from .text_env import EnvCard

__version__ = "0.1.0"

ENV_IDS = ("ALFWorld-text-v0", "WebShop-text-v0")
# the env class whose card describes each id (both backends of an id share the card)
_ENV_CLASS = {
    "ALFWorld-text-v0": "gigpo_gym.alfworld.env:ALFWorldTextEnv",
    "WebShop-text-v0": "gigpo_gym.webshop.env:WebShopTextEnv",
}


def env_card(env_id: str | None) -> EnvCard | None:
    """The :class:`~gigpo_gym.text_env.EnvCard` of a gigpo-gym env id (``None`` for any other id), read without
    building the env; a built env carries the same card as ``env.unwrapped.card``."""
    if env_id not in _ENV_CLASS:
        return None
    module, name = _ENV_CLASS[env_id].split(":")
    return getattr(importlib.import_module(module), name).card


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
