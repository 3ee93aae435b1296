"""WebShop-text-v0: WebShop's shopping tasks as a text Gymnasium environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import gymnasium as gym

from ..text_env import EnvCard, TextEnv
from .catalog import GOAL_SETS, Catalog, generate_catalog, load_catalog
from .engine import WebShopEngine
from .expert import expert_action
from .reward import check_reward_mode, purchase_reward_of
from .search import SearchEngine

__all__ = ["WebShopTextEnv", "make_webshop_env"]

SPLITS = ("train", "test")
MAX_GENERATED = 100_000  # products or goals of a generated catalog (10,000 products take about a second)


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
    ``AnyText``: ``search[query]`` or ``click[x]`` where ``x`` is one of ``info["available_actions"]["clickables"]``
    (listed as the original lists them: buttons in page order, then product asins in lower case, then option
    values): ``back to search``, ``< prev``, ``next >``, ``description``, ``features``, ``reviews``, ``buy now``.
    The argument is lower-cased, as WebShop does, and a search works on every page, as in the original's text env
    (``search_only_on_search_page=True`` refuses it where no search bar is shown). ``info["admissible_commands"]``
    lists every click but the search button and, on the search page, ``search[<the instruction without its price
    clause>]`` (WebShop's rule baseline query), so agents that pick from a list can search; any other query is
    accepted too. Anything else (an unknown click, ``click[search]``, ``search[]``, text that is not
    ``name[arg]``) changes nothing, as there: same page, reward 0, ``info["action_is_valid"]`` False.

    ## Observation space
    ``Dict({"text": AnyText, "state_hash": AnyText(32)})``: the page in WebShop's simple text mode (every visible
    text node, stripped, joined by ``" [SEP] "``, e.g. ``"Instruction: [SEP] i need ... [SEP] Back to Search [SEP]
    Page 1 (Total results: 50) [SEP] Next > [SEP] B0... [SEP] <title> [SEP] $12.99"``) and a blake2b digest of
    the web state: goal, page type, query (spaces normalised), page number, item asin, sub-page, chosen options.

    ## Rewards
    0 until ``buy now``. The purchase is scored by WebShop's purchase score in [0, 1]:
    ``r_type * (attributes matched + options matched + [price <= bound]) / (n_attributes +
    n_options + 1)``, with its parts in ``info["reward_info"]`` (the original's keys, weights included) and the
    score in ``info["score"]`` (0 before a purchase). Success (``info["won"]``) is a score of 1; WebShop's score
    is 100 x the mean score. With ``reward_mode="score"`` (default) the reward of ``buy now`` is the score; with
    ``"success"`` it is ``success_reward`` for a perfect purchase and 0 otherwise (the GiGPO paper's code trains
    on ``10 * [score == 1]`` and only logs the score).

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
    - ``data_dir``: a folder with WebShop's ``items_shuffle*.json`` products and ``items_ins_v2*.json``
      attributes (file names set by ``products_file``/``attributes_file``); replaces the generated catalog.
    - ``goal_set``: with ``data_dir``, ``"synthetic"`` (the original's default: goals made from the attribute
      file, one per option combination) or ``"human"`` (human-written goals from ``human_goals_file``,
      WebShop's ``items_human_ins.json``).
    - ``data_seed``: with ``data_dir``, the seed of Python's ``random`` right before the original's constructor
      (it draws range prices and price bounds); goals are then shuffled with seed 233 as there, so goal ``i`` of
      the ``"test"`` split is the original's session ``i``.
    - ``reward_mode``: ``"score"`` or ``"success"`` (see Rewards).
    - ``success_reward``: the reward of a perfect purchase in ``"success"`` mode (paper: 10).
    - ``search_only_on_search_page``: refuse ``search[...]`` where the page shows no search bar.
    - ``invalid_action_note``: prefix the observation of an action that changed nothing with a note naming it.
    - ``render_mode``: ``"ansi"`` or ``"human"``.

    ``info`` holds ``available_actions``, ``admissible_commands``, ``action_is_valid``, ``won``,
    ``is_success``, ``task_id``, ``task_type`` (the category), ``goal`` and, after a purchase,
    ``reward_info``.

    ## Differences from the original
    Listed in the README's WebShop section; on the real data the pages, clickables, search rankings, rewards and
    reward parts are the original's (tests/test_webshop_original.py replays its recorded transcripts). Title
    nouns for ``title_score`` come from spaCy only when it is installed (``gigpo-gym[spacy]``), else from a
    stop-word/adjective filter. The generated catalog is easier to search than WebShop's: goal attributes and
    options appear verbatim in the target's text.
    """

    card = EnvCard(
        description="a shopping website (WebShop); search, open products, choose options and buy",
        eval_split="test",
        columns=(("score", "Score"), ("all", "Success")),  # the paper's: mean score x 100 and success %
        sorted_commands=False,
    )

    def __init__(
        self,
        split: str = "test",
        catalog_seed: int = 0,
        n_products: int = 1000,
        n_goals: int = 6000,
        data_dir: str | Path | None = None,
        products_file: str = "items_shuffle_1000.json",
        attributes_file: str = "items_ins_v2_1000.json",
        goal_set: str = "synthetic",
        human_goals_file: str = "items_human_ins.json",
        data_seed: int = 0,
        reward_mode: str = "score",
        success_reward: float = 1.0,
        search_only_on_search_page: bool = False,
        invalid_action_note: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=512)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.reward_mode, self.success_reward = reward_mode, check_reward_mode(reward_mode, success_reward)
        for name, value in (
            ("search_only_on_search_page", search_only_on_search_page),
            ("invalid_action_note", invalid_action_note),
        ):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self.search_only_on_search_page, self.invalid_action_note = search_only_on_search_page, invalid_action_note
        if goal_set not in GOAL_SETS:
            raise ValueError(f"goal_set must be one of {GOAL_SETS}, got {goal_set!r}")
        numbers: tuple[tuple[str, Any], ...] = (
            ("catalog_seed", catalog_seed),
            ("n_products", n_products),
            ("n_goals", n_goals),
            ("data_seed", data_seed),
        )
        for name, value in numbers:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        for name, size in (("n_products", n_products), ("n_goals", n_goals)):
            # bounded, so that a config (or a checkpoint's saved one) cannot ask for a catalog without end
            if size > MAX_GENERATED:
                raise ValueError(f"{name} must be at most {MAX_GENERATED:,}, got {size:,}")
        if data_dir is None:
            key: tuple = ("generated", catalog_seed, n_products, n_goals)
        else:
            folder = Path(data_dir)
            if not folder.is_dir():
                raise FileNotFoundError(f"WebShop data_dir not found: {folder}")
            human = str(folder / human_goals_file) if goal_set == "human" else None
            key = ("real", str(folder / products_file), str(folder / attributes_file), data_seed, goal_set, human)
        self.catalog = _catalog(key)
        self.search_engine = _search_engine(key)
        self.split = split
        self.goals = self.catalog.goals[split]
        if not self.goals:
            raise ValueError(f"the {split!r} split of this catalog holds no goal")
        self.set_tasks(range(len(self.goals)), f"the {split!r} split")
        self._engine: WebShopEngine | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self.choose_task(options)
        self._engine = WebShopEngine(
            self.catalog,
            self.search_engine,
            self.goals[index],
            index,
            search_only_on_search_page=self.search_only_on_search_page,
            invalid_action_note=self.invalid_action_note,
        )
        self._text = self.engine.render()
        return self._observation(), self._info(valid=True)

    @property
    def engine(self) -> WebShopEngine:
        """The running episode's engine (the simulator's full state)."""
        if self._engine is None:
            raise RuntimeError("call reset() before step(): no episode is running")
        return self._engine

    def step(self, action: str):
        self.check_action(action)
        self._text, score, terminated, valid = self.engine.step(action)
        reward = purchase_reward_of(score, self.reward_mode, self.success_reward)
        return self._observation(), reward, self.end_if(terminated), False, self._info(valid=valid)

    def expert_command(self) -> str:
        """The expert's next action (it knows the target product and its options)."""
        return expert_action(self.engine)

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


# gigpo_gym.env_card reads the card of an id from its entry point (both backends share it)
make_webshop_env.card = WebShopTextEnv.card  # type: ignore[attr-defined]
