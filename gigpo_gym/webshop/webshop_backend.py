"""``backend="webshop"``: princeton-nlp/WebShop's own text environment behind WebShop-text-v0's contract.

Needs WebShop installed from its repository (``web_agent_site`` importable, with its data,
search index and spaCy model set up by its ``setup.sh``). The observation, spaces and info keys
are those of the embedded backend; the state hash is a digest of the page URL without the
session id (the URL encodes page, query, page number, asin, sub-page and options).
"""

from __future__ import annotations

import re
from typing import Any

from ..hashing import canonical_hash
from ..text_env import TextEnv
from .reward import check_reward_mode, purchase_reward_of

__all__ = ["WebShopRealEnv"]


def _import_text_env():
    try:
        from web_agent_site.envs.web_agent_text_env import WebAgentTextEnv
    except ImportError as error:
        raise ImportError(
            "backend='webshop' needs princeton-nlp/WebShop (the `web_agent_site` package, its product data, "
            "Lucene index and spaCy model), installed from https://github.com/princeton-nlp/WebShop with its "
            f"setup.sh; importing it failed: {error}. Use backend='embedded' for the built-in environment."
        ) from error
    return WebAgentTextEnv


class WebShopRealEnv(TextEnv):
    """WebShop's ``WebAgentTextEnv`` (``observation_mode="text"``) with gigpo-gym's spaces and info keys.

    Arguments: ``num_products`` (WebShop's 1,000-product setting by default), ``human_goals``,
    ``reward_mode`` and ``success_reward`` (as :class:`~gigpo_gym.webshop.env.WebShopTextEnv`), ``render_mode``;
    ``reset(options={"task_id": i})`` plays WebShop's goal ``i``.
    """

    def __init__(
        self,
        num_products: int = 1000,
        human_goals: bool = True,
        reward_mode: str = "score",
        success_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=512)
        self.reward_mode, self.success_reward = reward_mode, check_reward_mode(reward_mode, success_reward)
        text_env = _import_text_env()
        self._env = text_env(observation_mode="text", num_products=num_products, human_goals=human_goals)
        self.set_tasks(range(len(self._env.server.goals)), "WebShop's goals")
        self._task_id = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task_id = self.choose_task(options)
        self._task_id = task_id
        self._text, _ = self._env.reset(session=task_id)
        return self._observation(), self._info(valid=True, reward=0.0, done=False)

    def step(self, action: str):
        self.check_action(action)
        before = self._env.state["url"]
        text, reward, done, _ = self._env.step(action)
        valid = done or self._env.state["url"] != before
        self._text = text
        info = self._info(valid, float(reward), bool(done))
        reward = purchase_reward_of(info["score"], self.reward_mode, self.success_reward)
        return self._observation(), reward, self.end_if(done), False, info

    def _observation(self) -> dict[str, str]:
        url = re.sub(r"/" + re.escape(str(self._env.session)) + r"(?=/|$)", "", self._env.state["url"] or "")
        return {"text": self._text, "state_hash": canonical_hash((self._task_id, url))}

    def _info(self, valid: bool, reward: float, done: bool) -> dict[str, Any]:
        available = self._env.get_available_actions()
        commands = ["search[<query>]"] if available["has_search_bar"] else []
        goal = self._env.server.user_sessions[self._env.session]["goal"]
        won = done and reward == 1.0
        return {
            "available_actions": available,
            "admissible_commands": commands + [f"click[{c}]" for c in available["clickables"] if c != "search"],
            "action_is_valid": valid,
            "won": won,
            "is_success": won,
            "task_id": self._task_id,
            "task_type": goal.get("category", "all"),
            "goal": goal["instruction_text"],
            "score": reward if done else 0.0,
        }
