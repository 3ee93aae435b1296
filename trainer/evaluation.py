"""Success-rate evaluation of a trained agent on fixed tasks."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import gymnasium as gym
import torch

from wrappers.actions import project_action

__all__ = ["evaluate"]


def evaluate(
    model,
    env_id: str,
    task_ids: list[int],
    env_kwargs: dict[str, Any] | None = None,
    episodes_per_task: int = 1,
    deterministic: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """Success rate (%) of ``model`` on the given tasks, overall (``"all"``) and per task type.

    All episodes run batched through the policy; sampling is seeded, so a seed gives the same
    numbers for the same model.
    """
    envs = [gym.make(env_id, **(env_kwargs or {})) for _ in task_ids for _ in range(episodes_per_task)]
    tasks = [t for t in task_ids for _ in range(episodes_per_task)]
    obs, infos = zip(*(env.reset(options={"task_id": t}) for env, t in zip(envs, tasks, strict=True)), strict=True)
    obs, infos = list(obs), list(infos)
    goals = [info.get("goal", o["text"]) for o, info in zip(obs, infos, strict=True)]
    histories: list[list[tuple[str, str]]] = [[] for _ in envs]
    running = list(range(len(envs)))
    won = [False] * len(envs)
    generator = torch.Generator().manual_seed(seed)
    policy = model.policy
    while running:
        prompts = [
            model.prompt(goals[i], histories[i], obs[i]["text"], infos[i]["admissible_commands"]) for i in running
        ]
        responses = policy.act(prompts, [infos[i]["admissible_commands"] for i in running], deterministic, generator)
        still = []
        for i, response in zip(running, responses, strict=True):
            command, _ = project_action(response.text, infos[i]["admissible_commands"])
            histories[i].append((obs[i]["text"], command))
            obs[i], _, terminated, truncated, infos[i] = envs[i].step(command)
            won[i] = bool(infos[i].get("won", False))
            if not (terminated or truncated):
                still.append(i)
        running = still
    by_type: dict[str, list[bool]] = defaultdict(list)
    for i, info in enumerate(infos):
        by_type[info.get("task_type", "all")].append(won[i])
    table = {t: 100.0 * sum(v) / len(v) for t, v in sorted(by_type.items())}
    table["all"] = 100.0 * sum(won) / len(won)
    return table
