"""Record transcripts of the real ALFWorld games played by the real TextWorld env (for fidelity tests and benchmarks).

This script runs in a separate Python environment that has ``alfworld==0.4.2`` (TextWorld + Fast Downward), never
in the project's own. It imports nothing from gigpo-gym, whose dependencies that environment lacks, so it keeps its
own copy of the task types and of the game selection (``gigpo_gym.alfworld.pddl.find_games``). Run it as::

    ALFWORLD_DATA=/tmp/alfworld-data python benchmarks/alfworld_real.py \\
        --data ../shared/alfworld --out transcripts.jsonl.gz [--per-type 2] [--shard 1/2] [--exclude done.jsonl]

Each game is played twice from its reset: the planner's walkthrough (``extra.walkthrough``, Fast Downward) with
detours that leave the state unchanged (go elsewhere, look, examine, open and close, go back) and inadmissible
commands mixed in; then a random walk over the admissible commands (take, put, heat, use ... included) with some
inadmissible commands. Every step records the command, the observation, the sorted admissible commands, ``won``
and the step time; every episode its reset time. The output holds one JSON line per game (gzipped when the
name ends in ``.gz``), written as each game ends; ``--shard k/n`` plays every n-th game from the k-th, so
that n processes share the work. ``tests/test_alfworld_real.py`` and ``bench_envs.py`` replay the
commands through the embedded engine and compare.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
SPLITS = ("valid_seen", "valid_unseen")
RANDOM_WALK_STEPS = 15
LOOK_AROUND = "<look around>"


def game_files(data: Path, splits: tuple[str, ...], per_type: int | None) -> list[Path]:
    """The games ALFWorld's loader selects (6 task types, no movable/Sliced folders, solvable), sorted."""
    chosen = []
    for split in splits:
        taken: dict[str, int] = {}
        for task_dir in sorted((data / "json_2.1.1" / split).iterdir()):
            kind = task_dir.name.split("-", 1)[0]
            if kind not in TASK_TYPES or "movable" in task_dir.name or "Sliced" in task_dir.name:
                continue
            for game in sorted(task_dir.glob("*/game.tw-pddl")):
                if not json.loads(game.read_text()).get("solvable", False):
                    continue
                if per_type is not None and taken.get(kind, 0) >= per_type:
                    continue
                taken[kind] = taken.get(kind, 0) + 1
                chosen.append(game)
    return chosen


def open_text(path: Path, mode: str = "rt"):
    """A text file, gzipped when its name ends in ``.gz``."""
    return (gzip.open if path.suffix == ".gz" else open)(path, mode)


def inadmissible(rng: random.Random, admissible: list[str]) -> str:
    """A command the game should answer with "Nothing happens." (or that tests exact matching)."""
    words = [c[len("go to ") :] for c in admissible if c.startswith("go to ")] or ["table 1"]
    choice = rng.randrange(6)
    if choice == 0:
        return "help"
    if choice == 1:
        return rng.choice(admissible).upper()
    if choice == 2:
        return f"take {rng.choice(words)} from {rng.choice(words)}"
    if choice == 3:
        return f"move apple 1 to {rng.choice(words)}"
    if choice == 4:
        return "  " + rng.choice(admissible) + " "  # TextWorld strips: admissible (it may divert a walkthrough)
    return "go to the moon"


def play(env, commands_of, rng: random.Random) -> dict:
    """One episode: reset, then the commands chosen by ``commands_of(step, obs, infos)`` until it returns None."""
    start = time.perf_counter()
    obs, infos = env.reset()
    episode = {
        "reset_s": time.perf_counter() - start,
        "intro": obs,
        "admissible": infos["admissible_commands"],
        "walkthrough": infos.get("extra.walkthrough"),
        "steps": [],
    }
    step = 0
    while not infos["won"]:
        command = commands_of(step, obs, infos)
        if command is None:
            break
        start = time.perf_counter()
        obs, _, _, infos = env.step(command)
        episode["steps"].append(
            {
                "command": command,
                "obs": obs,
                "admissible": infos["admissible_commands"],
                "won": bool(infos["won"]),
                "time_s": time.perf_counter() - start,
            }
        )
        step += 1
    return episode


def walkthrough_with_detours(plan: list[str], rng: random.Random):
    """A command chooser: the plan, detours that leave the state as it was, and inadmissible commands."""
    plan = list(plan)
    pending: list[str] = []  # the current detour; LOOK_AROUND is resolved when its turn comes
    here = [None]  # where the plan last went

    def choose(step, obs, infos):
        admissible = infos["admissible_commands"]
        if not plan and not pending:
            return None
        if rng.random() < 0.1:
            return inadmissible(rng, admissible)
        if not pending and here[0] is not None and rng.random() < 0.25:
            others = [c for c in admissible if c.startswith("go to ") and c != f"go to {here[0]}"]
            if others:
                pending.extend([rng.choice(others)] + [LOOK_AROUND] * rng.randint(1, 3) + [f"go to {here[0]}"])
        if pending:
            command = pending.pop(0)
            if command == LOOK_AROUND:
                safe = [c for c in admissible if c.split(" ", 1)[0] in ("examine", "look", "inventory", "open")]
                command = rng.choice(safe)
                if command.startswith("open "):
                    pending.insert(0, "close " + command[len("open ") :])
            return command
        command = plan.pop(0)
        if command.startswith("go to "):
            here[0] = command[len("go to ") :]
        return command

    return choose


def random_walk(rng: random.Random, steps: int):
    """A command chooser: random admissible commands, and an inadmissible one now and then."""

    def choose(step, obs, infos):
        if step >= steps:
            return None
        admissible = infos["admissible_commands"]
        if rng.random() < 0.1:
            return inadmissible(rng, admissible)
        return rng.choice(admissible)

    return choose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with json_2.1.1/ (../shared/alfworld)")
    parser.add_argument("--out", type=Path, required=True, help="output .json.gz")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--per-type", type=int, default=None, help="games per task type and split (default all)")
    parser.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        default=[],
        help="transcript files whose games are already recorded: leave those games out (resume)",
    )
    parser.add_argument("--shard", default="1/1", help="k/n: play games k, k+n, k+2n ... (1-based)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if "ALFWORLD_DATA" not in os.environ:
        parser.error("set ALFWORLD_DATA (a writable folder) before running: alfworld creates it on import")

    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    request = textworld.EnvInfos(won=True, admissible_commands=True, extras=["walkthrough"])
    k, n = (int(x) for x in args.shard.split("/"))
    done = {json.loads(line)["game"] for path in args.exclude for line in open_text(path)}
    games = [
        game
        for game in game_files(args.data, tuple(args.splits), args.per_type)
        if str(game.relative_to(args.data)) not in done
    ][k - 1 :: n]
    with open_text(args.out, "wt") as out:
        for count, game in enumerate(games, 1):
            env_id = textworld.gym.register_game(
                str(game), request, max_episode_steps=10_000, wrappers=[AlfredDemangler(), AlfredInfos]
            )
            env = textworld.gym.make(env_id)
            rng = random.Random(f"{args.seed}/{game.relative_to(args.data)}")
            _, infos = env.reset()
            plan = list(infos["extra.walkthrough"])
            episodes = [
                play(env, walkthrough_with_detours(plan, rng), rng),
                play(env, random_walk(rng, RANDOM_WALK_STEPS), rng),
            ]
            env.close()
            out.write(json.dumps({"game": str(game.relative_to(args.data)), "episodes": episodes}) + "\n")
            out.flush()
            print(
                f"{count}/{len(games)} {game.parent.parent.name}: won={episodes[0]['steps'][-1]['won']}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
