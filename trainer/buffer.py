"""``GroupRolloutBuffer``: the steps of one group rollout and their GiGPO/GRPO/RLOO advantages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .advantages import gigpo_advantages, grpo_advantages, rloo_advantages, step_group_ids

__all__ = ["ESTIMATORS", "GroupRolloutBuffer", "StepRecord"]

ESTIMATORS = ("gigpo", "grpo", "rloo")


@dataclass
class StepRecord:
    """One environment step = one LLM response."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: np.ndarray
    reward: float  # env reward plus the invalid-action penalty
    env_reward: float
    done: bool
    state_hash: str
    observation: str
    group_id: int
    traj_id: int
    step: int
    valid: bool
    # the reference policy's log-probs of the response tokens; the update fills it once per round (the
    # reference is frozen, so the epochs share it)
    ref_logprobs: np.ndarray | None = None


@dataclass
class GroupRolloutBuffer:
    """Stores a rollout round and computes one advantage per step.

    Args:
        estimator: ``"gigpo"``, ``"grpo"`` or ``"rloo"``.
        gamma: discount of GiGPO's step returns (paper: 0.95).
        omega: weight of GiGPO's step advantage (paper: 1.0).
        norm: ``"mean"`` or ``"std"`` normalisation (GRPO uses ``"std"`` unless told).
        episode_stats: ``"trajectory"`` or ``"step"`` (see :mod:`trainer.advantages`).
        anchor: ``"state_hash"`` (the env's canonical state) or ``"observation"`` (its text, as
            the paper's reference code does) as GiGPO's anchor-state key.
    """

    estimator: str = "gigpo"
    gamma: float = 0.95
    omega: float = 1.0
    norm: str = "mean"
    episode_stats: str = "trajectory"
    anchor: str = "state_hash"
    records: list[StepRecord] = field(default_factory=list)
    advantages: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.anchor not in ("state_hash", "observation"):
            raise ValueError(f"anchor must be 'state_hash' or 'observation', got {self.anchor!r}")

    def reset(self) -> None:
        self.records = []
        self.advantages = None

    def add(self, record: StepRecord) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat ``(S,)`` arrays of rewards, group/trajectory ids and anchor keys."""
        recs = self.records
        return {
            "rewards": np.fromiter((r.reward for r in recs), np.float64, len(recs)),
            "group_ids": np.fromiter((r.group_id for r in recs), np.int64, len(recs)),
            "traj_ids": np.fromiter((r.traj_id for r in recs), np.int64, len(recs)),
            "anchors": np.array([r.state_hash if self.anchor == "state_hash" else r.observation for r in recs]),
        }

    def compute_advantages(self) -> np.ndarray:
        """One float64 advantage per stored step, with the configured estimator."""
        a = self.arrays()
        if self.estimator == "gigpo":
            adv = gigpo_advantages(
                a["rewards"], a["group_ids"], a["traj_ids"], a["anchors"],
                gamma=self.gamma, omega=self.omega, norm=self.norm, episode_stats=self.episode_stats,
            )  # fmt: skip
        elif self.estimator == "grpo":
            adv = grpo_advantages(
                a["rewards"], a["group_ids"], a["traj_ids"], norm=self.norm, episode_stats=self.episode_stats
            )
        else:
            adv = rloo_advantages(a["rewards"], a["group_ids"], a["traj_ids"])
        self.advantages = adv
        return adv

    def step_group_sizes(self) -> np.ndarray:
        """Size of the (group, anchor) step group of every step: how many anchors GiGPO found."""
        a = self.arrays()
        ids = step_group_ids(a["group_ids"], a["anchors"])
        return np.bincount(ids)[ids]

    def minibatches(self, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Shuffled index batches of at most ``batch_size`` steps covering the buffer once."""
        if self.advantages is None:
            raise RuntimeError("compute_advantages() before iterating mini-batches")
        order = rng.permutation(len(self.records))
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]
