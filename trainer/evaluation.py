"""Evaluation on fixed tasks: success per task type, overall success and score, and the paper-style table."""

from __future__ import annotations

import contextlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch

from gigpo_gym import env_card
from gigpo_gym.checker import check_env_start
from gigpo_gym.text_env import TextEnv

__all__ = [
    "baseline_chooser",
    "episode_records",
    "evaluate",
    "evaluate_records",
    "format_table",
    "record_table",
    "reports_score",
    "run_episodes",
    "tabulate",
    "wilson_interval",
]

# chooses the commands of the running episodes: (envs, observations, infos, histories) -> commands
Chooser = Callable[[list[gym.Env], list[dict], list[dict], list[list[tuple[str, str]]]], list[str]]


def run_episodes(
    env_id: str,
    task_ids: Sequence[int],
    choose: Chooser,
    env_kwargs: dict[str, Any] | None = None,
    episodes_per_task: int = 1,
) -> dict[str, float]:
    """Play ``episodes_per_task`` episodes of every task, all running together, and tabulate them.

    Returns success % per task type (``info["task_type"]``), ``"all"`` (success % overall) and
    ``"score"`` (100 x the mean of the final ``info["score"]``, WebShop's purchase score, whatever reward the env
    trains on; success where an env reports no score).
    """
    if not task_ids:
        raise ValueError("task_ids must name at least one task")
    return tabulate(episode_records(env_id, task_ids, choose, env_kwargs, episodes_per_task))


def episode_records(
    env_id: str,
    task_ids: Sequence[int],
    choose: Chooser,
    env_kwargs: dict[str, Any] | None = None,
    episodes_per_task: int = 1,
) -> list[tuple[str, bool, float]]:
    """``(task type, won, score)`` of ``episodes_per_task`` episodes of every task (none for no task).

    The env is checked on one reset and one step first (:func:`~gigpo_gym.checker.check_env_start`: an
    :class:`~gigpo_gym.checker.EnvContractError` names the key that is wrong).
    """
    probe = gym.make(env_id, **(env_kwargs or {}))
    check_env_start(probe, env_id)
    probe.close()
    envs = [gym.make(env_id, **(env_kwargs or {})) for _ in task_ids for _ in range(episodes_per_task)]
    tasks = [t for t in task_ids for _ in range(episodes_per_task)]
    starts = [e.reset(options={"task_id": t}) for e, t in zip(envs, tasks, strict=True)]
    obs, infos = [s[0] for s in starts], [s[1] for s in starts]
    histories: list[list[tuple[str, str]]] = [[] for _ in envs]
    won = [False] * len(envs)
    running = list(range(len(envs)))
    while running:
        commands = choose(
            [envs[i] for i in running],
            [obs[i] for i in running],
            [infos[i] for i in running],
            [histories[i] for i in running],
        )
        still = []
        for i, command in zip(running, commands, strict=True):
            histories[i].append((obs[i]["text"], command))
            obs[i], _, terminated, truncated, infos[i] = envs[i].step(command)
            won[i] = bool(infos[i].get("won", infos[i].get("is_success", False)))
            if not (terminated or truncated):
                still.append(i)
        running = still
    return [(info.get("task_type", "all"), w, float(info.get("score", w))) for info, w in zip(infos, won, strict=True)]


def tabulate(records: Sequence[tuple[str, bool, float]]) -> dict[str, float]:
    """The table of :func:`run_episodes` from :func:`episode_records` (of one process, or gathered from several)."""
    by_type: dict[str, list[bool]] = defaultdict(list)
    for task_type, won, _ in records:
        by_type[task_type].append(won)
    table = {t: 100.0 * sum(v) / len(v) for t, v in sorted(by_type.items())}
    table["all"] = 100.0 * sum(w for _, w, _ in records) / len(records)
    table["score"] = 100.0 * sum(s for _, _, s in records) / len(records)
    return table


def evaluate(
    model,
    env_id: str,
    task_ids: Sequence[int],
    env_kwargs: dict[str, Any] | None = None,
    episodes_per_task: int = 1,
    deterministic: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """:func:`run_episodes` with a trained agent: all episodes' prompts go through the policy batched.

    Sampling is seeded, so a seed gives the same numbers for the same model.
    """
    if not task_ids:
        raise ValueError("task_ids must name at least one task")
    return tabulate(evaluate_records(model, env_id, task_ids, env_kwargs, episodes_per_task, deterministic, seed))


def evaluate_records(
    model,
    env_id: str,
    task_ids: Sequence[int],
    env_kwargs: dict[str, Any] | None = None,
    episodes_per_task: int = 1,
    deterministic: bool = False,
    seed: int = 0,
) -> list[tuple[str, bool, float]]:
    """:func:`episode_records` of a trained agent (what :func:`evaluate` tabulates; a data-parallel run's ranks
    each play a share of the tasks and rank 0 tabulates them all).

    The policy plays in eval mode (no dropout), as it does in the rollouts, and samples from streams seeded with
    ``seed`` (score mode: its own generator; generate mode: the global torch generator of the model's device, which
    ``generate`` draws from). Every global generator and the policy's mode are given back as they were, so an
    evaluation during training leaves the training's random streams untouched and a resumed run stays exact.
    """
    generator = torch.Generator().manual_seed(seed)

    def choose(envs, obs, infos, histories):
        goals = [info.get("goal", o["text"]) for o, info in zip(obs, infos, strict=True)]
        texts = [o["text"] for o in obs]
        admissible = [info["admissible_commands"] for info in infos]
        return model.act(goals, histories, texts, admissible, deterministic, generator)[1]

    training = model.policy.training
    model.policy.set_training_mode(False)
    try:
        with _seeded_global_streams(torch.device(model.device), seed):
            return episode_records(env_id, task_ids, choose, env_kwargs, episodes_per_task)
    finally:
        model.policy.set_training_mode(training)


@contextlib.contextmanager
def _seeded_global_streams(device: torch.device, seed: int) -> Iterator[None]:
    """The block runs on the global torch generator (and ``device``'s CUDA one) seeded with ``seed``; afterwards
    they, Python's and NumPy's global generators are as they were (an env may draw from the latter two)."""
    python, legacy = random.getstate(), np.random.get_state()
    cuda = device.type == "cuda"
    index = (device.index if device.index is not None else torch.cuda.current_device()) if cuda else None
    # only the model's device: forking every visible GPU would create a context on each of them in every process
    with torch.random.fork_rng(devices=[] if index is None else [index], device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if index is not None:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(legacy)


def record_table(logger, table: dict[str, float], episodes: int, score: bool) -> None:
    """Record an evaluation table in an SB3 ``logger`` as ``eval/*``: ``success_rate`` and ``success_<task type>``
    as fractions in [0, 1] (as SB3's ``EvalCallback`` and the ``rollout/*`` rates), ``score`` (the mean final
    score, where the env reports one: ``score``), ``episodes`` (how many were played; CSV only)."""
    logger.record("eval/success_rate", table["all"] / 100)
    for task_type, value in table.items():
        if task_type not in ("all", "score"):
            logger.record(f"eval/success_{task_type}", value / 100)
    if score:
        logger.record("eval/score", table["score"] / 100)
    logger.record("eval/episodes", episodes, exclude="tensorboard")


def reports_score(env_id: str) -> bool:
    """Whether ``env_id``'s results table has a score column (WebShop's purchase score) beside success."""
    card = env_card(env_id)
    return card is not None and any(key == "score" for key, _ in card.columns)


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% for ``z`` 1.96) of a success probability from ``successes`` in ``n`` trials.

    It treats the episodes as independent; several episodes of one task are correlated, so with
    ``eval_episodes > 1`` the interval is a little too narrow.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def baseline_chooser(policy: str, seed: int = 0) -> Chooser:
    """``"random"`` (uniform over admissible commands, seeded) or ``"expert"`` (the env's scripted oracle)."""
    if policy == "random":
        rng = random.Random(seed)
        return lambda envs, obs, infos, histories: [rng.choice(info["admissible_commands"]) for info in infos]
    if policy == "expert":
        return lambda envs, obs, infos, histories: [cast(TextEnv, e.unwrapped).expert_command() for e in envs]
    raise ValueError(f"policy must be 'random' or 'expert', got {policy!r}")


def format_table(env_id: str, table: dict[str, float]) -> str:
    """The paper's table, with the columns the env's card names (ALFWorld: success % per task type and All;
    WebShop: score and success %); an env whose card names none gets one column per table key."""
    card = env_card(env_id)
    columns = card.columns if card is not None and card.columns else tuple((key, key) for key in table)
    names = [name for key, name in columns if key in table]
    values = [table[key] for key, _ in columns if key in table]
    header = "| " + " | ".join(names) + " |"
    rule = "|" + "|".join("---:" for _ in names) + "|"
    row = "| " + " | ".join(f"{v:.1f}" for v in values) + " |"
    return "\n".join([header, rule, row])
