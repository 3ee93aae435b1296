"""ALFWorld-text-v0: spaces, determinism, rules, state hashes, the expert and bad input."""

from __future__ import annotations

import copy
import random

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import gigpo_gym  # noqa: F401  (registers the env ids)
from gigpo_gym.alfworld import SPLIT_SIZES, TASK_TYPES, Engine, expert_command, generate_task
from gigpo_gym.alfworld.pddl import find_games
from gigpo_gym.alfworld.world import FLAGS, NOTHING_HAPPENS, render_list

from .conftest import SHARED


def make(split="train", **kw):
    return gym.make("ALFWorld-text-v0", split=split, **kw)


def run_expert(engine: Engine, limit: int = 50) -> tuple[bool, int]:
    for steps in range(limit + 1):
        command = expert_command(engine)
        if command is None:
            return True, steps
        assert command in engine.admissible_commands(), command
        engine.step(command)
    return False, limit


@pytest.mark.parametrize("split", list(SPLIT_SIZES))
def test_check_env_passes(split):
    check_env(make(split).unwrapped, skip_render_check=True)


def test_spaces_contain_observations_and_commands():
    env = make()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert len(obs["state_hash"]) == 32
    assert all(env.action_space.contains(c) for c in info["admissible_commands"])
    assert set(info) >= {"admissible_commands", "won", "task_type", "task_id", "goal", "is_success"}
    assert obs["text"].startswith("-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room.")
    assert f"Your task is to: {info['goal']}" in obs["text"]


def test_split_sizes_and_task_type_counts():
    assert SPLIT_SIZES == {"train": 3553, "valid_seen": 140, "valid_unseen": 134}
    seen = [generate_task("valid_seen", i).goal.task_type for i in range(140)]
    assert [seen.count(t) for t in TASK_TYPES] == [35, 13, 27, 16, 25, 24]


def test_unseen_floorplans_never_appear_in_train():
    train_scenes = {generate_task("train", i).scene for i in range(0, 3553, 3)}
    unseen_scenes = {generate_task("valid_unseen", i).scene for i in range(134)}
    assert not train_scenes & unseen_scenes


@pytest.mark.parametrize("split", ["valid_seen", "valid_unseen"])
def test_expert_solves_every_evaluation_task(split):
    for i in range(SPLIT_SIZES[split]):
        engine = Engine(generate_task(split, i))
        won, steps = run_expert(engine)
        assert won, f"{split}/{i} not solved"


def test_expert_solves_a_train_sample_and_reaches_the_env_reward():
    env = make("train")
    for i in random.Random(0).sample(range(3553), 500):
        env.reset(options={"task_id": i})
        engine = env.unwrapped.engine
        reward, terminated = 0.0, False
        while not terminated:
            obs, reward, terminated, truncated, info = env.step(expert_command(engine))
            assert not truncated
        assert reward == 1.0 and info["won"] and info["is_success"]


def test_expert_recovers_from_random_actions():
    rng = random.Random(1)
    for i in range(60):
        engine = Engine(generate_task("train", i))
        for _ in range(rng.randint(0, 15)):
            engine.step(rng.choice(engine.admissible_commands()))
        if not engine.won():
            assert run_expert(engine)[0], f"train/{i}"


def test_same_seed_same_task_and_trajectory():
    def rollout(seed):
        env = make()
        obs, info = env.reset(seed=seed)
        rng = random.Random(seed)
        out = [(obs["text"], obs["state_hash"])]
        for _ in range(20):
            obs, *_rest, info = env.step(rng.choice(info["admissible_commands"]))
            out.append((obs["text"], obs["state_hash"]))
        return out

    assert rollout(7) == rollout(7)
    assert rollout(7) != rollout(8)


def test_task_id_option_selects_the_task():
    env = make("valid_unseen")
    _, info = env.reset(options={"task_id": 5})
    assert info["task_id"] == "valid_unseen/5"
    assert info["goal"] == generate_task("valid_unseen", 5).goal.text


def test_task_types_filter():
    env = make(task_types=["pick_heat_then_place_in_recep"])
    for seed in range(10):
        assert env.reset(seed=seed)[1]["task_type"] == "pick_heat_then_place_in_recep"


@pytest.mark.parametrize("size", [3, 5])
def test_small_rooms_keep_the_task_and_what_it_needs(size):
    for i in range(0, 3553, 7):
        full, small = generate_task("train", i), generate_task("train", i, size)
        assert len(small.receptacles) <= size
        assert (small.goal.formula, small.goal.task_type, small.scene) == (
            full.goal.formula,
            full.goal.task_type,
            full.scene,
        )
        names = [r.name for r in small.receptacles]
        for rtype in {r.rtype for r in small.receptacles}:  # renumbered 1..k per type
            count = sum(r.rtype == rtype for r in small.receptacles)
            assert {f"{rtype} {k}" for k in range(1, count + 1)} <= set(names)
        won, _ = run_expert(Engine(small))
        assert won, f"train/{i} with max_receptacles={size} not solved"


def test_small_rooms_through_the_env():
    env = make("valid_seen", max_receptacles=3)
    obs, info = env.reset(options={"task_id": 0})
    assert info["task_id"] == "valid_seen/0/max_receptacles=3"
    overview = obs["text"].split("you see ", 1)[1].split(".", 1)[0]
    assert overview.count(",") <= 2  # "a X, a Y, and a Z"
    assert obs["state_hash"] != make("valid_seen").reset(options={"task_id": 0})[0]["state_hash"]
    with pytest.raises(ValueError, match="max_receptacles must be >= 3"):
        make(max_receptacles=2)
    with pytest.raises(ValueError, match="max_receptacles applies to generated tasks"):
        make(max_receptacles=4, data_path="/nonexistent")


def _snapshot(engine: Engine) -> dict:
    return copy.deepcopy(
        {k: getattr(engine, k) for k in ("agent", "held", "inside", "left", "item_at", "opened")}
        | {f: {i for g, i in engine.flags if g == f} for f in FLAGS}
    )


# The state fields each command verb may change.
_MOVES = {"inside", "left", "item_at", "held"}
_EFFECTS = {
    "go": {"agent"},
    "open": {"opened"},
    "close": {"opened"},
    "take": _MOVES,
    "put": _MOVES,
    "move": _MOVES,
    "clean": {"clean"},
    "heat": {"hot", "cool"},
    "cool": {"hot", "cool"},
    "use": {"on", "toggled"},
    "slice": {"sliced"},
    "examine": set(),
    "look": set(),
    "inventory": set(),
    "help": set(),
}


def test_admissible_commands_change_only_what_they_should():
    rng = random.Random(2)
    checked = set()
    for i in range(40):
        engine = Engine(generate_task("train", i))
        for _ in range(40):
            before = _snapshot(engine)
            command = rng.choice(engine.admissible_commands())
            text, _ = engine.step(command)
            assert text != NOTHING_HAPPENS
            verb = command.split()[0]
            changed = {k for k, v in _snapshot(engine).items() if v != before[k]}
            assert changed <= _EFFECTS[verb], (command, changed)
            checked.add(verb)
    assert checked >= {"go", "open", "take", "put", "examine", "look", "inventory"}


def test_inadmissible_commands_say_nothing_happens_and_change_nothing():
    engine = Engine(generate_task("valid_seen", 0))
    rng = random.Random(3)
    for _ in range(30):
        engine.step(rng.choice(engine.admissible_commands()))
        admissible = set(engine.admissible_commands())
        before, state = _snapshot(engine), engine.state_hash()
        near_misses = (
            [c.upper() for c in admissible]
            + [c + " 1" for c in admissible]
            + [
                "go to fridge 99",
                "take everything",
                "",
                "put apple 1 in/on countertop 1",
                "GO TO",
            ]
        )
        for command in near_misses:
            if command.strip() in admissible:
                continue
            assert engine.step(command) == (NOTHING_HAPPENS, engine.won())
            assert _snapshot(engine) == before and engine.state_hash() == state


def test_commands_match_after_strip():
    engine = Engine(generate_task("valid_seen", 0))
    command = engine.admissible_commands()[0]
    assert engine.step(f"  {command}\n")[0] != NOTHING_HAPPENS


def test_state_hash_equal_for_commuting_orders_and_changes_with_state():
    task = next(
        generate_task("train", i)
        for i in range(100)
        if sum(r.openable for r in generate_task("train", i).receptacles) >= 2
    )
    a, b = [r.name for r in task.receptacles if r.openable][:2]
    first, second = Engine(task), Engine(task)
    hashes = {first.state_hash()}
    for command in (f"go to {a}", f"open {a}", f"go to {b}", f"open {b}"):
        first.step(command)
        hashes.add(first.state_hash())
    assert len(hashes) == 5  # every state change gives a new hash
    for command in (f"go to {b}", f"open {b}", f"go to {a}", f"open {a}", f"go to {b}"):
        second.step(command)
    assert first.state_hash() == second.state_hash()
    # Looking, examining and inventory change no state.
    for command in ("look", "inventory", f"examine {b}"):
        first.step(command)
        assert first.state_hash() == second.state_hash()


def test_state_hash_is_process_independent():
    # A fixed task and path always give the same digest (blake2b of a canonical tuple).
    engine = Engine(generate_task("valid_seen", 0))
    h0 = engine.state_hash()
    assert h0 == Engine(generate_task("valid_seen", 0)).state_hash()
    assert h0 != Engine(generate_task("valid_seen", 1)).state_hash()


def test_messages_follow_the_alfworld_grammar():
    assert render_list([]) == "nothing"
    assert render_list(["a apple 1"]) == "a apple 1"
    assert render_list(["a apple 1", "a mug 2"]) == "a apple 1, and a mug 2"
    assert render_list(["x", "y", "z"]) == "x, y, and z"
    task = next(
        t
        for t in (generate_task("train", i) for i in range(300))
        if t.goal.task_type == "pick_heat_then_place_in_recep"
    )
    engine = Engine(task)
    fridge = next(r for r in task.receptacles if r.rtype == "fridge")
    loc, fridge = task.locations[fridge.location], fridge.name
    assert engine.step("look")[0] == "You are in the middle of a room. Looking quickly around you, you see nothing."
    text, _ = engine.step(f"go to {fridge}")
    assert text == f"You arrive at {loc}. The {fridge} is closed."
    assert f"go to {fridge}" not in engine.admissible_commands()  # already there
    text, _ = engine.step(f"open {fridge}")
    assert text.startswith(f"You open the {fridge}. The {fridge} is open. In it, you see ")
    assert engine.step(f"close {fridge}")[0] == f"You close the {fridge}."
    assert engine.step("inventory")[0] == "You are not carrying anything."
    assert engine.step("look")[0] == f"You are facing the {fridge}. Next to it, you see nothing."
    # Play the expert to the end and check the verbs' messages on the way.
    seen = []
    while (command := expert_command(engine)) is not None:
        seen.append(engine.step(command)[0])
    assert any(t.startswith("You pick up the ") and " from the " in t for t in seen)
    assert any(t.startswith("You heat the ") and " using the microwave " in t for t in seen)
    assert seen[-1].startswith("You put the ") and " in/on the " in seen[-1]
    # ALFWorld 0.4.x's text (game data 2.1.2).
    engine = Engine(task, grammar_version="2.1.2")
    assert engine.step(f"go to {fridge}")[0] == f"You arrive at {fridge}. The {fridge} is closed."
    assert engine.step("help")[0].startswith("\nAvailable commands:\n")
    seen = []
    while (command := expert_command(engine)) is not None:
        seen.append(engine.step(command)[0])
    assert seen[-1].startswith("You move the ") and " to the " in seen[-1]
    with pytest.raises(ValueError, match="grammar_version"):
        Engine(task, grammar_version="2.2")


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="split"):
        make("test")
    with pytest.raises(ValueError, match="backend"):
        make(backend="unity")
    with pytest.raises(ValueError, match="task_types"):
        make(task_types=["juggle"])
    with pytest.raises(ValueError, match="task_id"):
        make("valid_seen").reset(options={"task_id": 140})
    with pytest.raises(TypeError, match="action"):
        env = make()
        env.reset(seed=0)
        env.step(3)


def test_truncated_at_the_step_limit():
    env = make(max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step("look")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_textworld_backend_reports_what_is_missing():
    try:
        import alfworld  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"gigpo-gym\[alfworld\]"):
            make("valid_seen", backend="textworld")
    else:
        pytest.skip("the real alfworld package is installed, so nothing is missing")


SHARED_ALFWORLD = SHARED / "alfworld"


@pytest.mark.skipif(not SHARED_ALFWORLD.is_dir(), reason="../shared/alfworld (real ALFWorld games) is absent")
def test_real_game_selection_matches_alfworld_counts():
    assert len(find_games(SHARED_ALFWORLD, "valid_seen")) == 140
    assert len(find_games(SHARED_ALFWORLD, "valid_unseen")) == 134


def test_missing_game_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="json_2.1.1"):
        find_games(tmp_path, "valid_seen")


def test_receptacles_and_objects_are_listed_by_type_then_descending_number():
    # TextWorld sorts by ALFRED id, and ALFWorld numbers a type's instances backwards in id order.
    def keys(names):
        return [(n.rsplit(" ", 1)[0], -int(n.rsplit(" ", 1)[1])) for n in names]

    engine = Engine(generate_task("train", 3))
    intro = engine.reset().split("you see ", 1)[1].split(".\n", 1)[0]
    listed = intro.replace(", and ", ", ").removeprefix("a ").split(", a ")
    assert len(listed) == len(engine.task.receptacles) and keys(listed) == sorted(keys(listed))
    for r in range(len(engine.task.receptacles)):
        names = [engine.task.items[i].name for i in engine.contents(r)]
        assert keys(names) == sorted(keys(names))


@pytest.mark.skipif(not SHARED_ALFWORLD.is_dir(), reason="../shared/alfworld (real ALFWorld games) is absent")
def test_textworld_backend_plays_a_real_game(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path))  # alfworld creates this folder on import
    pytest.importorskip("alfworld", reason="the real stack is not installed: pip install 'gigpo-gym[alfworld]'")
    env = make("valid_seen", backend="textworld", data_path=str(SHARED_ALFWORLD))
    obs, info = env.reset(options={"task_id": 0})
    assert env.observation_space.contains(obs)
    assert obs["text"].startswith("-= Welcome to TextWorld, ALFRED! =-")
    assert info["task_type"] in TASK_TYPES and info["goal"] in obs["text"]
    assert info["admissible_commands"] == sorted(info["admissible_commands"])
    moved, *_ = env.step(next(c for c in info["admissible_commands"] if c.startswith("go to")))
    assert moved["text"].startswith("You arrive at ") and moved["state_hash"] != obs["state_hash"]
    same, reward, terminated, truncated, _ = env.step("dance")
    assert same["text"] == NOTHING_HAPPENS and same["state_hash"] == moved["state_hash"]
    assert (reward, terminated, truncated) == (0.0, False, False)
