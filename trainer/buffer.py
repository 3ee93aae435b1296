"""``GroupRolloutBuffer``: the steps of one group rollout and their GiGPO/GRPO/RLOO (or PPO) advantages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .advantages import gae_advantages, gigpo_advantages, grpo_advantages, rloo_advantages, step_group_ids, whiten

__all__ = ["ANCHORS", "EPISODE_STATS", "ESTIMATORS", "NORMS", "PENALTY_MODES", "GroupRolloutBuffer", "StepRecord"]

# the group-relative estimators, and "ppo": GAE over a learned value (the policy's value head)
ESTIMATORS = ("gigpo", "grpo", "rloo", "ppo")
NORMS = ("std", "mean")
EPISODE_STATS = ("trajectory", "step")
ANCHORS = ("state_hash", "observation")
# where the invalid-action penalty goes: "row" subtracts it from the invalid row's own episode value and
# return-to-go after the returns are computed (the reference code); "reward" adds it to the step's reward, so it
# also lowers the episode return of the whole trajectory and discounts into its earlier steps
PENALTY_MODES = ("row", "reward")


@dataclass
class StepRecord:
    """One environment step = one LLM response."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: np.ndarray  # generate mode: per response token; score mode: (1,) log pi(a|s)
    reward: float  # the env's reward
    penalty: float  # the invalid-action penalty (0 for a valid response)
    done: bool
    state_hash: str
    observation: str
    group_id: int
    traj_id: int
    step: int
    valid: bool
    # score mode: every admissible action's token ids and the index of the chosen one
    candidate_ids: list[list[int]] | None = None
    choice: int = -1
    # the reference policy's log-probs of the response tokens; the update fills it once per round (the
    # reference is frozen, so the epochs share it)
    ref_logprobs: np.ndarray | None = None
    # PPO: whether the step ended its episode by the step limit (its successor is not terminal), the token ids of
    # that successor state, and the critic's values of the step's state and of that successor (filled per round)
    truncated: bool = False
    next_state_ids: list[int] | None = None
    value: float = 0.0
    next_value: float = 0.0


@dataclass
class GroupRolloutBuffer:
    """Stores a rollout round and computes one advantage per step.

    Args:
        estimator: ``"gigpo"``, ``"grpo"``, ``"rloo"`` or ``"ppo"``.
        gamma: discount of GiGPO's step returns and of PPO's GAE (paper: 0.95).
        omega: weight of GiGPO's step advantage (paper: 1.0).
        norm: ``"mean"`` or ``"std"`` normalisation (GRPO uses ``"std"`` unless told).
        episode_stats: ``"trajectory"`` or ``"step"`` (see :mod:`trainer.advantages`).
        anchor: ``"state_hash"`` (the env's canonical state) or ``"observation"`` (its text, as
            the paper's reference code does) as GiGPO's anchor-state key.
        penalty_mode: ``"row"`` or ``"reward"`` (see :data:`PENALTY_MODES`). PPO always adds the penalty to the
            step's reward: its advantages come from rewards and values only.
        gae_lambda: PPO's GAE lambda (1: Monte-Carlo return minus the value; 0: one-step TD error).
        normalize_advantage: PPO: whiten the round's advantages (mean 0, variance 1 over the loss tokens), as the
            reference code does.
    """

    estimator: str = "gigpo"
    gamma: float = 0.95
    omega: float = 1.0
    norm: str = "mean"
    episode_stats: str = "trajectory"
    anchor: str = "state_hash"
    penalty_mode: str = "row"
    gae_lambda: float = 0.95
    normalize_advantage: bool = True
    records: list[StepRecord] = field(default_factory=list)
    advantages: np.ndarray | None = None
    returns: np.ndarray | None = None  # PPO: the critic's targets, (S,) float64

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.anchor not in ("state_hash", "observation"):
            raise ValueError(f"anchor must be 'state_hash' or 'observation', got {self.anchor!r}")
        if self.penalty_mode not in PENALTY_MODES:
            raise ValueError(f"penalty_mode must be one of {PENALTY_MODES}, got {self.penalty_mode!r}")

    def reset(self) -> None:
        self.records = []
        self.advantages = None
        self.returns = None

    def add(self, record: StepRecord) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat ``(S,)`` arrays of rewards, per-row penalties, group/trajectory ids and anchor keys.

        With ``penalty_mode="reward"`` the penalties are already in the rewards (and zero).
        """
        recs = self.records
        rewards = np.fromiter((r.reward for r in recs), np.float64, len(recs))
        penalties = np.fromiter((r.penalty for r in recs), np.float64, len(recs))
        if self.penalty_mode == "reward" or self.estimator == "ppo":
            rewards, penalties = rewards + penalties, np.zeros_like(penalties)
        return {
            "rewards": rewards,
            "penalties": penalties,
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
                penalties=a["penalties"],
            )  # fmt: skip
        elif self.estimator == "grpo":
            adv = grpo_advantages(
                a["rewards"], a["group_ids"], a["traj_ids"], norm=self.norm, episode_stats=self.episode_stats,
                penalties=a["penalties"],
            )  # fmt: skip
        elif self.estimator == "rloo":
            adv = rloo_advantages(
                a["rewards"], a["group_ids"], a["traj_ids"], episode_stats=self.episode_stats, penalties=a["penalties"]
            )
        else:
            adv = self._gae(a)
        self.advantages = adv
        return adv

    def _gae(self, a: dict[str, np.ndarray]) -> np.ndarray:
        """PPO's advantages from the critic's values filled in the records; sets :attr:`returns`."""
        recs = self.records
        values = np.fromiter((r.value for r in recs), np.float64, len(recs))
        adv, self.returns = gae_advantages(
            a["rewards"], a["traj_ids"], values, np.fromiter((r.truncated for r in recs), bool, len(recs)),
            np.fromiter((r.next_value for r in recs), np.float64, len(recs)), gamma=self.gamma,
            gae_lambda=self.gae_lambda, group_ids=a["group_ids"],
        )  # fmt: skip
        if not self.normalize_advantage:
            return adv
        # the token-level statistics: a generated response's advantage is broadcast over its tokens
        tokens = [1 if r.candidate_ids is not None else len(r.response_ids) for r in recs]
        return whiten(adv, np.asarray(tokens, dtype=np.float64))

    def step_group_sizes(self) -> np.ndarray:
        """Size of the (group, anchor) step group of every step: how many anchors GiGPO found."""
        a = self.arrays()
        ids = step_group_ids(a["group_ids"], a["anchors"])
        return np.bincount(ids)[ids]

    def signal_rows(self) -> np.ndarray:
        """``(S,)`` bool: the rows of episode groups holding some non-zero advantage (episode or step level).

        A group whose returns are all equal has a zero episode advantage but may still carry step-level signal
        (GiGPO), so the test is on the combined advantage of every row of the group (DAPO-style filtering).
        """
        if self.advantages is None:
            raise RuntimeError("compute_advantages() before asking for the signal rows")
        groups = np.unique(self.arrays()["group_ids"], return_inverse=True)[1]
        return np.bincount(groups, weights=(self.advantages != 0.0).astype(np.float64))[groups] > 0

    def minibatches(
        self, batch_size: int, rng: np.random.Generator, rows: np.ndarray | None = None
    ) -> Iterator[np.ndarray]:
        """Shuffled index batches of at most ``batch_size`` steps covering ``rows`` (default: all) once."""
        if self.advantages is None:
            raise RuntimeError("compute_advantages() before iterating mini-batches")
        order = rng.permutation(len(self.records) if rows is None else np.asarray(rows))
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]
