"""WebShop-text-v0: WebShop's shopping tasks as a text Gymnasium environment."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import gymnasium as gym

from ..text_env import TextEnv
from .catalog import Catalog, generate_catalog, load_catalog
from .engine import WebShopEngine
from .search import SearchEngine

__all__ = ["WebShopTextEnv", "make_webshop_env"]

SPLITS = ("train", "test")
REWARD_MODES = ("score", "success")


def check_reward_mode(reward_mode: str, success_reward: float) -> float:
    """Validate WebShop's ``reward_mode`` and ``success_reward``; returns the latter as a float."""
    if reward_mode not in REWARD_MODES:
        raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
    if not (isinstance(success_reward, int | float) and math.isfinite(success_reward) and success_reward > 0):
        raise ValueError(f"success_reward must be a finite number > 0, got {success_reward!r}")
    return float(success_reward)


def purchase_reward_of(score: float, reward_mode: str, success_reward: float) -> float:
    """The step reward of a purchase ``score`` (0 before a purchase) under ``reward_mode``."""
    return score if reward_mode == "score" else success_reward * float(score == 1.0)


@lru_cache(maxsize=4)
def _search_engine(catalog_key: tuple) -> SearchEngine:
    return SearchEngine(_catalog(catalog_key).products)


@lru_cache(maxsize=4)
def _catalog(catalog_key: tuple) -> Catalog:
    kind, *args = catalog_key
    return generate_catalog(*args) if kind == "generated" else load_catalog(*args)


class WebShopTextEnv(TextEnv):
    """WebShop (Yao et al. 2022): find, customise and buy the product an instruction asks for.

    An embedded re-implementation of princeton-nlp/WebShop's text environment: the same pages
    (search, results, item, item sub-pages, done), actions, BM25 search and purchase reward, over
    a catalog the library generates from a seed (1,000 products in beauty, electronics, fashion,
    garden/home and grocery; 6,000 goals) or, with ``data_dir``, WebShop's real data files.

    ## Action space
    ``AnyText``: ``search[query]`` (only on the search page) or ``click[x]`` where ``x`` is one
    of ``info["available_actions"]["clickables"]``: ``back to search``, ``next >``, ``< prev``, a
    product's asin (lower case), an option value, ``description``, ``features``, ``reviews``,
    ``buy now``. The argument is lower-cased, as WebShop does. ``info["admissible_commands"]``
    lists every click and, on the search page, ``search[<the instruction without its price
    clause>]`` (WebShop's rule baseline query), so agents that pick from a list can search; any
    other query is accepted too. A malformed or unavailable action changes nothing and the
    observation says so.

    ## Observation space
    ``Dict({"text": AnyText, "state_hash": AnyText(32)})``: the page in WebShop's simple text mode
    (visible strings joined by ``" [SEP] "``, e.g. ``"Instruction: [SEP] i need ... [SEP] Back to
    Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] B0... [SEP] <title> [SEP] $12.99"``)
    and a blake2b digest of the web state: goal, page type, normalised query, page number, item
    asin, sub-page and chosen options.

    ## Rewards
    0 until ``buy now``. The purchase is scored by WebShop's purchase score in [0, 1]:
    ``r_type * (attributes matched + options matched + [price <= bound]) / (n_attributes +
    n_options + 1)``, with its parts in ``info["reward_info"]`` and the score in ``info["score"]``
    (0 before a purchase). Success (``info["won"]``) is a score of 1; WebShop's score is 100 x the
    mean score. With ``reward_mode="score"`` (default) the reward of ``buy now`` is the score; with
    ``"success"`` it is ``success_reward`` for a perfect purchase and 0 otherwise (the GiGPO
    paper's code trains on ``10 * [score == 1]`` and only logs the score).

    ## Starting state
    The search page of a goal. ``reset(options={"task_id": i})`` plays goal ``i`` of the split;
    ``reset(seed=s)`` draws the goal from the seed; a plain ``reset()`` draws the next one from
    the env's random generator.

    ## Episode end
    ``terminated`` on ``buy now``; ``truncated`` at ``max_episode_steps`` (15 by default, set
    through ``gym.make``).

    ## Arguments
    - ``split``: ``"test"`` (the first 500 goals, as the paper evaluates) or ``"train"`` (the rest).
    - ``catalog_seed``, ``n_products``, ``n_goals``: the generated catalog.
    - ``data_dir``: a folder with WebShop's ``items_shuffle*.json`` products and
      ``items_ins_v2*.json`` attributes (file names set by ``products_file``/``attributes_file``);
      replaces the generated catalog.
    - ``reward_mode``: ``"score"`` or ``"success"`` (see Rewards).
    - ``success_reward``: the reward of a perfect purchase in ``"success"`` mode (paper: 10).
    - ``render_mode``: ``"ansi"`` or ``"human"``.

    ``info`` holds ``available_actions``, ``admissible_commands``, ``action_is_valid``, ``won``,
    ``is_success``, ``task_id``, ``task_type`` (the category), ``goal`` and, after a purchase,
    ``reward_info``.

    ## Differences from the original
    The generated catalog is easier to search than WebShop's: goal attributes and options appear
    verbatim in the target's text, so the rule baseline (search the instruction, buy the first
    result) scores about 73 with 22% success instead of the paper's 45.6 and 9.6%.
    Search is only available on the search page (the original's text env also accepts it
    elsewhere, although no search bar is shown there); the done page shows the purchase and the
    score but no MTurk code; title nouns for r_type come from a stop-word/adjective filter rather
    than spaCy (see :mod:`gigpo_gym.webshop.reward`); matched options are capped at the goal's
    option count so the reward stays in [0, 1]; there is no ``Attributes`` sub-page (the
    original hides it by default).
    """

    def __init__(
        self,
        split: str = "test",
        catalog_seed: int = 0,
        n_products: int = 1000,
        n_goals: int = 6000,
        data_dir: str | Path | None = None,
        products_file: str = "items_shuffle_1000.json",
        attributes_file: str = "items_ins_v2_1000.json",
        reward_mode: str = "score",
        success_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=512)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.reward_mode, self.success_reward = reward_mode, check_reward_mode(reward_mode, success_reward)
        for name, value in (("catalog_seed", catalog_seed), ("n_products", n_products), ("n_goals", n_goals)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if data_dir is None:
            key: tuple = ("generated", catalog_seed, n_products, n_goals)
        else:
            folder = Path(data_dir)
            if not folder.is_dir():
                raise FileNotFoundError(f"WebShop data_dir not found: {folder}")
            key = ("real", str(folder / products_file), str(folder / attributes_file))
        self.catalog = _catalog(key)
        self.search_engine = _search_engine(key)
        self.split = split
        self.goals = self.catalog.goals[split]
        if not self.goals:
            raise ValueError(f"the {split!r} split of this catalog holds no goal")
        self._set_tasks(range(len(self.goals)), f"the {split!r} split")
        self.engine: WebShopEngine | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self._choose_task(options)
        self.engine = WebShopEngine(self.catalog, self.search_engine, self.goals[index], index)
        self._text = self.engine.render()
        return self._observation(), self._info(valid=True)

    def step(self, action: str):
        self._check_action(action)
        self._text, score, terminated, valid = self.engine.step(action)
        reward = purchase_reward_of(score, self.reward_mode, self.success_reward)
        return self._observation(), reward, self._end_if(terminated), False, self._info(valid=valid)

    def _observation(self) -> dict[str, str]:
        return {"text": self._text, "state_hash": self.engine.state_hash()}

    def _info(self, valid: bool) -> dict[str, Any]:
        engine = self.engine
        won = engine.page == "done" and engine.reward == 1.0
        available = engine.available_actions()
        info = {
            "available_actions": available,
            "admissible_commands": engine.admissible_commands(available),
            "action_is_valid": valid,
            "won": won,
            "is_success": won,  # read by SB3's evaluation callbacks
            "task_id": engine.goal_id,
            "task_type": engine.goal.category,
            "goal": engine.goal.instruction_text,
            "score": float(engine.reward) if engine.page == "done" else 0.0,
        }
        if engine.reward_info is not None:
            info["reward_info"] = dict(engine.reward_info)
        return info


def make_webshop_env(backend: str = "embedded", **kwargs: Any) -> gym.Env:
    """Entry point of ``WebShop-text-v0``: the embedded engine or princeton-nlp's WebShop."""
    if backend == "embedded":
        return WebShopTextEnv(**kwargs)
    if backend == "webshop":
        from .webshop_backend import WebShopRealEnv

        return WebShopRealEnv(**kwargs)
    raise ValueError(f"backend must be 'embedded' or 'webshop', got {backend!r}")
