"""Replay transcripts of the original WebShop text env through the embedded engine and compare, step by step.

Transcripts are recorded by ``benchmarks/webshop_original.py`` (run where princeton-nlp/WebShop runs): one JSON
line per episode with the goal set, seed and session, the goal and the prices the original drew, and for the
reset and each step the page (``obs``), ``has_search_bar``, ``clickables``, ``reward``, ``done``, the purchase's
``reward_info`` and a search's ranked ``hits`` with their Lucene scores. In the test fixture every text is a
digest (:func:`digest`), so the fixture carries none of WebShop's research-only data; the pages are re-made here
from ``../shared/webshop`` and compared digest for digest.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..transcripts import read_transcripts
from .engine import WebShopEngine, parse_action
from .env import WebShopTextEnv

__all__ = ["FIELDS", "Replay", "digest", "read_transcripts", "replay_episode"]

FIELDS = ("goal", "prices", "obs", "clickables", "has_search_bar", "reward", "done", "reward_info", "hits")


def digest(text: str) -> str:
    """The recorder's digest of a text: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Replay:
    """What replaying episodes gave: per field, how many comparisons were made and how many matched."""

    compared: Counter = field(default_factory=Counter)
    matched: Counter = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def check(self, what: str, where: str, ours: Any, theirs: Any) -> None:
        self.compared[what] += 1
        if ours == theirs:
            self.matched[what] += 1
        elif len(self.mismatches) < 50:
            self.mismatches.append(f"{where}: {what}: ours {ours!r}, original {theirs!r}")

    def merge(self, other: Replay) -> None:
        self.compared.update(other.compared)
        self.matched.update(other.matched)
        self.mismatches += other.mismatches


def _hashed(text: str, hashed: bool) -> str:
    return digest(text) if hashed else text


def _goal_record(env: WebShopTextEnv, session: int, hashed: bool) -> dict:
    goal = env.goals[session]
    options = [o if isinstance(o, str) else list(o) for o in goal.goal_options]
    return {
        "asin": goal.asin,
        "instruction_text": _hashed(goal.instruction_text, hashed),
        "attributes": digest(json.dumps(list(goal.attributes))) if hashed else list(goal.attributes),
        "goal_options": digest(json.dumps(options)) if hashed else options,
        "price_upper": goal.price_upper,
        "weight": goal.weight,
    }


def _page(engine: WebShopEngine, text: str, hashed: bool) -> dict:
    available = engine.available_actions()
    clickables = json.dumps(available["clickables"])
    return {
        "obs": _hashed(text, hashed),
        "has_search_bar": available["has_search_bar"],
        "clickables": digest(clickables) if hashed else available["clickables"],
    }


def replay_episode(record: dict, make_env: Callable[[str, int], WebShopTextEnv], hashed: bool = True) -> Replay:
    """Play ``record``'s actions through the embedded engine of ``make_env(goal_set, seed)`` and compare.

    The engine is stepped directly, so the steps the original allows after a purchase replay too. Hit scores are
    compared as Anserini reports them (rounded to 4 decimals, a repeated score lowered by 1e-6 per repeat).
    """
    result = Replay()
    env = make_env(record["mode"], record["seed"])
    where = f"{record['mode']}/seed {record['seed']}/session {record['session']}"
    result.check(
        "goal",
        where,
        (len(env.goals), _goal_record(env, record["session"], hashed)),
        (record["n_goals"], record["goal"]),
    )
    prices = {p.asin: p.price for p in env.catalog.products}
    result.check("prices", where, prices, record["prices"])
    env.reset(options={"task_id": record["session"]})
    engine = env.engine
    pages = [(where + "/reset", _page(engine, engine.render(), hashed), record["reset"])]
    for i, step in enumerate(record["steps"]):
        text, reward, done, _ = engine.step(step["action"])
        at = f"{where}/step {i} {step['action']!r}"
        pages.append((at, _page(engine, text, hashed), step))
        result.check("reward", at, reward, step["reward"])
        result.check("done", at, done, step["done"])
        if done or "reward_info" in step:
            info = engine.reward_info if done else None
            result.check("reward_info", at, list((info or {}).items()), list((step.get("reward_info") or {}).items()))
        if "hits" in step:
            name, arg = parse_action(step["action"])
            assert arg is not None, step["action"]  # a recorded search names its query
            scores = engine.search_engine.scores(arg)
            ranked = engine.search_engine.search(arg)
            hits = list(zip(ranked, _as_anserini_reports([scores[a] for a in ranked]), strict=True))
            result.check("hits", at, hits, [(asin, round(score, 6)) for asin, score in step["hits"]])
    for at, page, recorded in pages:
        for key in ("obs", "clickables", "has_search_bar"):
            result.check(key, at, page[key], recorded[key])
    return result


def _as_anserini_reports(scores: list[float]) -> list[float]:
    # Anserini's ScoreTiesAdjusterReranker reports scores rounded to 4 decimals and lowers the k-th repeat of a
    # rounded score by k * 1e-6 (compared at 6 decimals: the reports are float32)
    reports, previous, repeats = [], None, 0
    for score in scores:
        rounded = round(score, 4)
        repeats = repeats + 1 if rounded == previous else 0
        previous = rounded
        reports.append(round(rounded - 1e-6 * repeats, 6))
    return reports


def fixture_env_factory(data_dir: str | Path, human_goals: str | Path) -> Callable[[str, int], WebShopTextEnv]:
    """Envs over the 8 real products in ``data_dir/items_shuffle.MINI8_trimmed.json``, one per goal set and seed."""
    envs: dict[tuple[str, int], WebShopTextEnv] = {}

    def make(mode: str, seed: int) -> WebShopTextEnv:
        if (mode, seed) not in envs:
            envs[mode, seed] = WebShopTextEnv(
                split="test",
                data_dir=data_dir,
                products_file="items_shuffle.MINI8_trimmed.json",
                goal_set=mode,
                human_goals_file=str(Path(human_goals).resolve()),
                data_seed=seed,
            )
        return envs[mode, seed]

    return make
