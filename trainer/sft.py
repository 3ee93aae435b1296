"""Supervised warm start: behaviour cloning of ALFWorld's expert before RL.

A random-weight model almost never completes a task, so every group has equal returns and GiGPO
(like GRPO) gets exactly zero advantage. A short supervised phase on expert demonstrations, the
same for every estimator compared, gives RL a policy that sometimes succeeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from gigpo_gym.alfworld import Engine, expert_command, generate_task
from gigpo_gym.alfworld.generator import n_tasks, split_task_types
from wrappers.actions import format_action

__all__ = ["Demonstration", "expert_demonstrations", "supervised_warm_start"]


@dataclass(frozen=True)
class Demonstration:
    """One expert step: what the agent was shown and the command the expert chose."""

    goal: str
    history: tuple[tuple[str, str], ...]
    observation: str
    admissible: tuple[str, ...]
    command: str


def expert_demonstrations(
    n_episodes: int,
    split: str = "train",
    task_types: list[str] | None = None,
    seed: int = 0,
) -> list[Demonstration]:
    """Every step of the expert on ``n_episodes`` tasks of ``split`` drawn with ``seed``."""
    kinds = split_task_types(split)
    pool = [i for i in range(n_tasks(split)) if task_types is None or kinds[i] in task_types]
    if not pool:
        raise ValueError(f"split {split!r} holds no task of types {task_types}")
    demos = []
    for index in random.Random(seed).sample(pool, min(n_episodes, len(pool))):
        engine = Engine(generate_task(split, index))
        observation, history = engine.reset(), list[tuple[str, str]]()
        while (command := expert_command(engine)) is not None:
            demos.append(
                Demonstration(
                    engine.task.goal.text,
                    tuple(history),
                    observation,
                    tuple(engine.admissible_commands()),
                    command,
                )
            )
            history.append((observation, command))
            observation, _ = engine.step(command)
    return demos


def supervised_warm_start(
    model,
    demos: list[Demonstration],
    epochs: int = 1,
    batch_size: int = 16,
    seed: int = 0,
    update_reference: bool = True,
) -> list[float]:
    """Train ``model`` (a :class:`trainer.gigpo.GiGPO`) to answer each demonstration's command.

    The loss is the mean negative log-likelihood of the expert's command under the policy the agent acts with:
    in ``score`` mode ``-log pi(command|s)`` over the admissible set, in ``generate`` mode the response tokens
    (``<action>command</action>`` and end-of-sequence) given the rollout prompt. It uses the model's own
    optimiser. With full fine-tuning and ``update_reference``, the KL reference becomes the
    warm-started model, as the paper's reference is the policy RL starts from (with LoRA the
    reference stays the base model, the adapter disabled).

    Returns the loss of every batch.
    """
    if not demos:
        raise ValueError("demos is empty")
    policy = model.policy
    prompts = [model.prompt(d.goal, list(d.history), d.observation, list(d.admissible)) for d in demos]
    prompt_ids = policy.state_ids(prompts)
    score_mode = policy.action_mode == "score"
    if score_mode:
        candidates = [policy.encode_candidates(d.admissible) for d in demos]
        choices = [d.admissible.index(d.command) for d in demos]
    else:
        response_ids = [policy.encode_response(format_action(d.command)) for d in demos]
    rng = np.random.default_rng(seed)
    policy.set_training_mode(True)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(demos))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if score_mode:
                logps = policy.candidate_logprobs([prompt_ids[j] for j in batch], [candidates[j] for j in batch])
                loss = -torch.stack([lp[choices[j]] for lp, j in zip(logps, batch, strict=True)]).mean()
            else:
                logp, mask, _ = policy.response_logprobs(
                    [prompt_ids[j] for j in batch], [response_ids[j] for j in batch]
                )
                loss = -(logp * mask).sum() / mask.sum()
            policy.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.trainable_parameters(), model.max_grad_norm)
            policy.optimizer.step()
            losses.append(loss.item())
    if update_reference and policy.reference is not None:
        policy.reference.load_state_dict(policy.model.state_dict())
    return losses
