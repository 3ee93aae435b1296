"""WebShop-text-v0 against the original WebShop text env: recorded transcripts replayed step by step.

``tests/fixtures/webshop_transcripts.jsonl.gz`` was recorded from princeton-nlp/WebShop's ``WebAgentTextEnv``
(text mode, commit 64fa2a5c; pyserini 0.17.0, thefuzz 0.19.0 on difflib, spaCy with en_core_web_sm 3.6.0) by
``benchmarks/webshop_original.py``: 36 episodes written for this project (straight, near-miss and partial
purchases, navigation, query variants, invalid actions, steps after a purchase) over the 8 real products of
``../shared/webshop/items_shuffle.MINI8_trimmed.json``, with the real attribute file's synthetic goals and the
human goals of ``benchmarks/webshop_fixture/items_human_ins.json``. The fixture holds digests of the texts, not
the texts; the tests skip when ``../shared/webshop`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gigpo_gym.webshop.reward import noun_tagger
from gigpo_gym.webshop.transcripts import FIELDS, Replay, fixture_env_factory, read_transcripts, replay_episode

from .conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
SHARED_WEBSHOP = SHARED / "webshop"
FIXTURE = ROOT / "tests" / "fixtures" / "webshop_transcripts.jsonl.gz"
HUMAN_GOALS = ROOT / "benchmarks" / "webshop_fixture" / "items_human_ins.json"
pytestmark = pytest.mark.skipif(
    not (SHARED_WEBSHOP / "items_shuffle.MINI8_trimmed.json").is_file(),
    reason="../shared/webshop (real WebShop products) is absent",
)


@pytest.fixture(scope="module")
def replay() -> Replay:
    make = fixture_env_factory(SHARED_WEBSHOP, HUMAN_GOALS)
    total = Replay()
    for episode in read_transcripts(FIXTURE):
        total.merge(replay_episode(episode, make))
    return total


def test_fixture_covers_both_goal_sets_searches_and_purchases():
    episodes = read_transcripts(FIXTURE)
    assert {e["mode"] for e in episodes} == {"human", "synthetic"} and len(episodes) >= 30
    steps = [s for e in episodes for s in e["steps"]]
    assert sum("hits" in s for s in steps) >= 50 and sum(s["done"] for s in steps) >= 30
    assert sum(s["reward"] not in (0.0, 1.0) for s in steps) >= 8  # partial purchases


@pytest.mark.parametrize("what", [f for f in FIELDS if f != "reward_info"])
def test_replay_is_identical(replay, what):
    """Pages, clickables (order included), search bar, rewards, done, search rankings, goals and prices."""
    assert replay.compared[what] > 0
    wrong = [m for m in replay.mismatches if f": {what}: " in m]
    assert replay.matched[what] == replay.compared[what], "\n".join(wrong[:5])


@pytest.mark.skipif(noun_tagger() != "spacy", reason="title_score needs spaCy's nouns (the spacy extra and its model)")
def test_replay_reward_parts_are_identical(replay):
    """Every ``reward_info`` part, in the original's key order, title_score included."""
    wrong = [m for m in replay.mismatches if ": reward_info: " in m]
    assert replay.compared["reward_info"] >= 30
    assert replay.matched["reward_info"] == replay.compared["reward_info"], "\n".join(wrong[:5])
