"""The embedded engine on the real ALFWorld games: loader, naming, transcripts of the real TextWorld env, expert.

The transcripts in ``tests/fixtures/alfworld_transcripts.jsonl.gz`` were recorded from the real env
(``alfworld==0.4.2``, TextWorld + Fast Downward) by ``benchmarks/alfworld_real.py``; the games themselves
are read from ``../shared/alfworld`` and the tests that need them skip when it is absent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import gigpo_gym  # noqa: F401  (registers the env ids)
from gigpo_gym.alfworld import TASK_TYPES, Engine, expert_command
from gigpo_gym.alfworld.pddl import _demangled_names, find_games, load_game, parse_sexp
from gigpo_gym.alfworld.transcripts import read_transcripts, replay_game

from .conftest import SHARED

SHARED_ALFWORLD = SHARED / "alfworld"
FIXTURE = Path(__file__).parent / "fixtures" / "alfworld_transcripts.jsonl.gz"
needs_games = pytest.mark.skipif(not SHARED_ALFWORLD.is_dir(), reason="../shared/alfworld (real games) is absent")


def test_names_follow_alfworlds_demangler():
    ids = [
        "cabinet_bar__plus_00_dot_20_bar__plus_01",
        "cabinet_bar__minus_00_dot_40_bar__plus_01",
        "cabinet_bar_00_dot_00_bar__plus_01",
        "sink_bar__plus_01_bar_00_bar__plus_02_bar_sinkbasin",
        "sink_bar__plus_01_bar_00_bar__plus_02",
        "loc_bar_3_bar_2",
        "loc_bar__minus_1_bar_2",
        "agent1",
        "cabinettype",
    ]
    names = _demangled_names(ids)
    # Sorted ids ("_bar_0" < "_bar__m" < "_bar__p") are numbered backwards; "basin" ids get their own name.
    assert names["cabinet_bar_00_dot_00_bar__plus_01"] == "cabinet 3"
    assert names["cabinet_bar__minus_00_dot_40_bar__plus_01"] == "cabinet 2"
    assert names["cabinet_bar__plus_00_dot_20_bar__plus_01"] == "cabinet 1"
    assert names["sink_bar__plus_01_bar_00_bar__plus_02_bar_sinkbasin"] == "sinkbasin 1"
    assert names["sink_bar__plus_01_bar_00_bar__plus_02"] == "sink 1"
    assert names["loc_bar_3_bar_2"] == "loc 2" and names["loc_bar__minus_1_bar_2"] == "loc 1"
    assert "agent1" not in names and "cabinettype" not in names


def test_parse_sexp_lowercases_drops_comments_and_rejects_unbalanced_text():
    assert parse_sexp("(and (inReceptacle ?o ?r) ; comment\n (not (= ?a ?b)))") == [
        "and",
        ["inreceptacle", "?o", "?r"],
        ["not", ["=", "?a", "?b"]],
    ]
    with pytest.raises(ValueError, match="unbalanced"):
        parse_sexp("(a))")
    with pytest.raises(ValueError, match="balanced"):
        parse_sexp("((a)")


@needs_games
def test_game_selection_matches_alfworlds_loader():
    counts = {
        split: Counter(p.parent.parent.name.split("-")[0] for p in find_games(SHARED_ALFWORLD, split))
        for split in ("valid_seen", "valid_unseen")
    }
    assert [counts["valid_seen"][t] for t in TASK_TYPES] == [35, 13, 27, 16, 25, 24]
    assert [counts["valid_unseen"][t] for t in TASK_TYPES] == [24, 18, 31, 23, 21, 17]


@needs_games
def test_embedded_engine_reproduces_the_real_envs_transcripts():
    records = read_transcripts(FIXTURE)
    assert len(records) >= 24 and {r["game"].split("/")[1] for r in records} == {"valid_seen", "valid_unseen"}
    steps = 0
    for record in records:
        result = replay_game(record, SHARED_ALFWORLD)
        assert result.first_mismatch is None, result.first_mismatch
        steps += result.steps
    # The recordings cover the planner's walkthroughs and random walks. A walkthrough can fail when its
    # whitespace-padded command (a strip() test) happens to be a move elsewhere; most reach the goal.
    assert steps > 700
    assert sum(r["episodes"][0]["steps"][-1]["won"] for r in records) >= 3 * len(records) // 4


@needs_games
def test_expert_solves_every_real_game_within_50_steps():
    solved = Counter()
    games = find_games(SHARED_ALFWORLD, "valid_seen") + find_games(SHARED_ALFWORLD, "valid_unseen")
    for game in games:
        engine = Engine(load_game(game))
        for _ in range(50):
            command = expert_command(engine)
            if command is None:
                break
            assert command in engine.admissible_commands(), (game, command)
            engine.step(command)
        solved[engine.task.goal.task_type] += engine.won()
    assert sum(solved.values()) == len(games) == 274


@needs_games
def test_env_plays_the_real_games(monkeypatch):
    env = gym.make("ALFWorld-text-v0", split="valid_seen", data_path=str(SHARED_ALFWORLD)).unwrapped
    assert len(env.task_ids) == 140
    check_env(env, skip_render_check=True)
    obs, info = env.reset(options={"task_id": 0})
    assert info["task_id"] == str(find_games(SHARED_ALFWORLD, "valid_seen")[0])
    assert obs["text"].startswith("-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room.")
    go = next(c for c in info["admissible_commands"] if c.startswith("go to "))
    obs, *_ = env.step(go)
    assert obs["text"].startswith("You arrive at loc ")
    # ALFWORLD_DATA selects the real games too; grammar_version="2.1.2" gives ALFWorld 0.4.x's text.
    monkeypatch.setenv("ALFWORLD_DATA", str(SHARED_ALFWORLD))
    env = gym.make(
        "ALFWorld-text-v0", split="valid_unseen", grammar_version="2.1.2", task_types=["pick_two_obj_and_place"]
    ).unwrapped
    assert len(env.task_ids) == 17
    _, info = env.reset(seed=0)
    assert info["task_type"] == "pick_two_obj_and_place" and "help" in info["admissible_commands"]
    obs, *_ = env.step(go := next(c for c in info["admissible_commands"] if c.startswith("go to ")))
    assert obs["text"].startswith(f"You arrive at {go[len('go to ') :]}. ")


def test_missing_data_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="json_2.1.1"):
        gym.make("ALFWorld-text-v0", split="valid_seen", data_path=str(tmp_path))
