"""gigpo-gym: text environments for LLM agents; importing this package registers their Gymnasium ids."""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

ENV_IDS = ("ALFWorld-text-v0", "WebShop-text-v0")

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
