"""Environment throughput and baseline policies.

Run from the repository root::

    python benchmarks/bench_envs.py [--steps 20000] [--alfworld-data ../shared/alfworld]
        [--alfworld-transcripts T1.jsonl T2.jsonl ...] [--alfworld-real-python ALFWORLD_VENV/bin/python]

ALFWorld-text-v0 (embedded): env steps/s under a random admissible policy (the step includes the
state hash and the admissible-command list), reset time, and the success per task type of the
random policy and the expert on valid_seen (50-step limit).

Real ALFWorld games (when ``--alfworld-data`` names a folder with ``json_2.1.1``, ``../shared/alfworld`` by
default): the embedded expert's success per task type on the 274 valid_seen + valid_unseen games; and, given
transcripts of the real TextWorld env recorded by ``benchmarks/alfworld_real.py``, the share of steps whose
text, sorted admissible commands and ``won`` flag match exactly; and, given the python of an environment with
``alfworld==0.4.2``, the real env's steps/s and reset time against the embedded engine's on the same commands,
both measured in this run (the real env records ``--alfworld-real-per-type`` valid_seen games per task type).

WebShop-text-v0 (embedded, generated 1,000-product catalog): env steps/s under a random admissible
policy (the step includes BM25 search, page rendering, the state hash and the clickables; search
results are cached per query, as repeated rollouts of a group reuse them), the same with the cache
cleared before every search, and score (100 x mean reward) and success rate on the 500 test goals (15-step
limit) of a random policy, WebShop's rule baseline (search the instruction, buy the first result) and the expert.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import gymnasium as gym

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld import SPLIT_SIZES, TASK_TYPES, Engine, expert_command
from gigpo_gym.alfworld.env import ALFWORLD_CARD
from gigpo_gym.alfworld.pddl import find_games, load_game
from gigpo_gym.alfworld.transcripts import read_transcripts, replay_game
from gigpo_gym.webshop import expert_action

SHARED = Path(__file__).resolve().parents[2] / "shared"


def alfworld_throughput(steps: int, seed: int = 0) -> tuple[float, float]:
    env = gym.make("ALFWorld-text-v0", split="train")
    rng = random.Random(seed)
    _, info = env.reset(seed=seed)
    resets, reset_time = 1, 0.0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
        if terminated or truncated:
            t0 = time.perf_counter()
            _, info = env.reset()
            reset_time += time.perf_counter() - t0
            resets += 1
    elapsed = time.perf_counter() - start - reset_time
    return steps / elapsed, reset_time / max(resets - 1, 1)


def alfworld_success(policy: str, split: str = "valid_seen", seed: int = 0) -> dict[str, float]:
    env = gym.make("ALFWorld-text-v0", split=split)
    rng = random.Random(seed)
    wins, counts = defaultdict(int), defaultdict(int)
    for task_id in range(SPLIT_SIZES[split]):
        _, info = env.reset(options={"task_id": task_id})
        done = False
        while not done:
            if policy == "expert":
                command = expert_command(env.unwrapped.engine)
            else:
                command = rng.choice(info["admissible_commands"])
            _, _, terminated, truncated, info = env.step(command)
            done = terminated or truncated
        counts[info["task_type"]] += 1
        wins[info["task_type"]] += bool(info["won"])
    table = {t: 100.0 * wins[t] / counts[t] for t in TASK_TYPES}
    table["all"] = 100.0 * sum(wins.values()) / sum(counts.values())
    return table


def real_expert_success(data: Path) -> dict[str, float]:
    """The embedded expert's success % per task type on the real valid_seen + valid_unseen games (50 steps)."""
    wins, counts = defaultdict(int), defaultdict(int)
    for game in find_games(data, "valid_seen") + find_games(data, "valid_unseen"):
        engine = Engine(load_game(game))
        for _ in range(50):
            if (command := expert_command(engine)) is None:
                break
            engine.step(command)
        counts[engine.task.goal.task_type] += 1
        wins[engine.task.goal.task_type] += engine.won()
    table = {t: 100.0 * wins[t] / counts[t] for t in TASK_TYPES}
    table["all"] = 100.0 * sum(wins.values()) / sum(counts.values())
    return table


def real_fidelity(data: Path, transcripts: list[Path]) -> None:
    """Replay real-env transcripts through the embedded engine; print the share of identical observations."""
    records = list({r["game"]: r for r in read_transcripts(*transcripts)}.values())  # one record per game
    results = [replay_game(record, data) for record in records]
    steps, matched = sum(r.steps for r in results), sum(r.matched for r in results)
    games_ok = sum(r.first_mismatch is None for r in results)
    commands = sum(r.commands for r in results)
    print(
        f"real ALFWorld transcripts: {len(records)} games, {steps:,} observations ({commands:,} commands): "
        f"{100.0 * matched / steps:.2f}% identical (text, admissible commands, won); {games_ok} games all identical"
    )
    for r in results:
        if r.first_mismatch:
            print(f"  first mismatch: {r.first_mismatch}")
    games = [str(g.relative_to(data)) for split in ("valid_seen", "valid_unseen") for g in find_games(data, split)]
    missing = sorted(set(games) - {r["game"] for r in records})
    print(
        f"transcripts cover {len(games) - len(missing)} of the {len(games)} valid_seen + valid_unseen games"
        + "".join(f"\n  not recorded: {game}" for game in missing)
    )


def real_speed(data: Path, python: str, per_type: int) -> None:
    """Record ``per_type`` valid_seen games per task type with the real env now (``python`` runs
    ``alfworld_real.py``), replay the same commands through the embedded engine, print both speeds."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "timing.jsonl"
        # alfworld writes its own files under ALFWORLD_DATA on import, so it gets a scratch folder (the user's
        # ALFWORLD_DATA may name the read-only game folder); the games come from --data.
        env = {**os.environ, "ALFWORLD_DATA": str(Path(tmp) / "alfworld-home")}
        done = subprocess.run(
            [
                python,
                str(Path(__file__).with_name("alfworld_real.py")),
                "--data",
                str(data),
                "--out",
                str(out),
                "--splits",
                "valid_seen",
                "--per-type",
                str(per_type),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the real env's recorder failed under {python}:\n{done.stderr[-2000:]}")
        results = [replay_game(record, data) for record in read_transcripts(out)]
    commands, resets = sum(r.commands for r in results), sum(r.resets for r in results)
    real_rate = commands / sum(r.real_step_s for r in results)
    embedded_rate = commands / sum(r.embedded_step_s for r in results)
    real_reset, embedded_reset = (
        sum(getattr(r, f) for r in results) / resets for f in ("real_reset_s", "embedded_reset_s")
    )
    identical = all(r.first_mismatch is None for r in results)
    print(
        f"real vs embedded, {len(results)} valid_seen games ({per_type} per type) played now, {commands} commands "
        f"({'all identical' if identical else 'MISMATCHES'}): steps/s real TextWorld {real_rate:,.1f}, "
        f"embedded {embedded_rate:,.0f} (x{embedded_rate / real_rate:,.0f}); reset real {real_reset:.2f} s, "
        f"embedded {embedded_reset * 1e3:.2f} ms (x{real_reset / embedded_reset:,.0f})"
    )


def webshop_throughput(steps: int, cold_search: bool, seed: int = 0) -> float:
    env = gym.make("WebShop-text-v0", split="train")
    search = env.unwrapped.search_engine.search
    rng = random.Random(seed)
    _, info = env.reset(seed=seed)
    reset_time = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        command = rng.choice(info["admissible_commands"])
        if cold_search and command.startswith("search["):
            search.cache_clear()
        _, _, terminated, truncated, info = env.step(command)
        if terminated or truncated:
            t0 = time.perf_counter()
            _, info = env.reset()
            reset_time += time.perf_counter() - t0
    return steps / (time.perf_counter() - start - reset_time)


def rule_action(info: dict) -> str:
    """WebShop's rule baseline: search the instruction, open the first result, buy it."""
    commands = info["admissible_commands"]
    if "click[buy now]" in commands:
        return "click[buy now]"
    products = [c for c in commands if c.startswith("click[b0")]
    return products[0] if products else commands[0]


def webshop_scores(policy: str, seed: int = 0) -> tuple[float, float]:
    """(score = 100 x mean reward, success %) on the 500 test goals."""
    env = gym.make("WebShop-text-v0", split="test")
    rng = random.Random(seed)
    rewards = []
    for task_id in range(len(env.unwrapped.goals)):
        _, info = env.reset(options={"task_id": task_id})
        done, reward = False, 0.0
        while not done:
            if policy == "expert":
                command = expert_action(env.unwrapped.engine)
            elif policy == "rule":
                command = rule_action(info)
            else:
                command = rng.choice(info["admissible_commands"])
            _, reward, terminated, truncated, info = env.step(command)
            done = terminated or truncated
        rewards.append(reward)
    return 100.0 * sum(rewards) / len(rewards), 100.0 * sum(r == 1.0 for r in rewards) / len(rewards)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="random-policy steps to time")
    parser.add_argument(
        "--alfworld-data",
        type=Path,
        default=SHARED / "alfworld",
        help="folder with the real games (json_2.1.1/); skipped when absent",
    )
    parser.add_argument(
        "--alfworld-transcripts",
        type=Path,
        nargs="*",
        default=[],
        help="real-env transcripts from benchmarks/alfworld_real.py to compare against",
    )
    parser.add_argument(
        "--alfworld-real-python",
        default=None,
        help="python of an environment with alfworld==0.4.2: time the real env in this run",
    )
    parser.add_argument(
        "--alfworld-real-per-type",
        type=int,
        default=2,
        help="valid_seen games per task type that the real env plays for the timing",
    )
    args = parser.parse_args(argv)

    rate, reset = alfworld_throughput(args.steps)
    print(f"ALFWorld-text-v0 embedded: {rate:,.0f} steps/s, reset {reset * 1e3:.2f} ms ({args.steps:,} steps)")
    short = [dict(ALFWORLD_CARD.columns)[t] for t in TASK_TYPES] + ["All"]
    print("valid_seen success %  " + " ".join(f"{s:>6}" for s in short))
    for policy in ("random", "expert"):
        row = alfworld_success(policy)
        print(f"{policy:<21}" + " ".join(f"{v:>6.1f}" for v in row.values()))

    if (args.alfworld_data / "json_2.1.1").is_dir():
        row = real_expert_success(args.alfworld_data)
        print("real games (274) success % " + " ".join(f"{s:>6}" for s in short))
        print(f"{'expert':<26}" + " ".join(f"{v:>6.1f}" for v in row.values()))
        if args.alfworld_transcripts:
            real_fidelity(args.alfworld_data, args.alfworld_transcripts)
        if args.alfworld_real_python:
            real_speed(args.alfworld_data, args.alfworld_real_python, args.alfworld_real_per_type)
    else:
        print(f"real ALFWorld games: skipped ({args.alfworld_data} has no json_2.1.1/)")

    warm = webshop_throughput(args.steps, cold_search=False)
    cold = webshop_throughput(args.steps, cold_search=True)
    print(f"WebShop-text-v0 embedded: {warm:,.0f} steps/s (search cache on), {cold:,.0f} steps/s (every search cold)")
    print("WebShop test goals (500)  score  success %")
    for policy in ("random", "rule", "expert"):
        score, success = webshop_scores(policy)
        print(f"{policy:<25} {score:>5.1f} {success:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
