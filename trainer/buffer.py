"""``GroupRolloutBuffer``: the steps of one group rollout and their GiGPO/GRPO/RLOO (or PPO) advantages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .advantages import (
    gae_advantages,
    gigpo_advantages,
    grpo_advantages,
    permuted_anchor_keys,
    rloo_advantages,
    step_group_ids,
    whiten,
)

__all__ = [
    "ANCHORS",
    "EPISODE_STATS",
    "ESTIMATORS",
    "NORMS",
    "PENALTY_MODES",
    "GroupRolloutBuffer",
    "RolloutBatch",
    "StepRecord",
]

# the group-relative estimators, and "ppo": GAE over a learned value (the policy's value head)
ESTIMATORS = ("gigpo", "grpo", "rloo", "ppo", "gigpo-permuted")
NORMS = ("std", "mean")
EPISODE_STATS = ("trajectory", "step")
ANCHORS = ("state_hash", "observation")
# where the invalid-action penalty goes: "row" subtracts it from the invalid row's own episode value and
# return-to-go after the returns are computed (the reference code); "reward" adds it to the step's reward, so it
# also lowers the episode return of the whole trajectory and discounts into its earlier steps
PENALTY_MODES = ("row", "reward")
COLUMNS = ("rewards", "penalties", "group_ids", "traj_ids", "anchors")


@dataclass
class StepRecord:
    """One environment step = one LLM response."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: np.ndarray  # generate mode: per response token; score mode: (1,) log pi(a|s)
    reward: float  # the env's reward
    penalty: float  # the invalid-action penalty (0 for a valid response)
    state_hash: str
    observation: str
    group_id: int
    traj_id: int
    step: int  # the step's index in its episode
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


class RolloutBatch(NamedTuple):
    """A mini-batch (or micro-batch) of a round's steps, as the update reads it (SB3's ``RolloutBufferSamples``).

    ``B`` steps: ``rows`` (B,) int64 their indices in the round, ``records`` their step records,
    ``advantages`` (B,) float64; PPO only (else ``None``): ``old_values`` (B,) the rollout critic's values and
    ``returns`` (B,) the critic's targets ``A + V``, float64.
    """

    rows: np.ndarray
    records: list[StepRecord]
    advantages: np.ndarray
    old_values: np.ndarray | None
    returns: np.ndarray | None

    def micro_batches(self, size: int) -> Iterator[RolloutBatch]:
        """Consecutive slices of at most ``size`` steps (gradients accumulate over them)."""
        for start in range(0, len(self.rows), size):
            part = slice(start, start + size)
            yield RolloutBatch(
                self.rows[part],
                self.records[part],
                self.advantages[part],
                None if self.old_values is None else self.old_values[part],
                None if self.returns is None else self.returns[part],
            )


@dataclass
class GroupRolloutBuffer:
    """Stores a rollout round and computes one advantage per step.

    Args:
        estimator: ``"gigpo"``, ``"grpo"``, ``"rloo"``, ``"ppo"`` or ``"gigpo-permuted"`` (GiGPO on anchor keys
            permuted within each episode group, a control for step credit: :func:`~.advantages.permuted_anchor_keys`).
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
    advantages: np.ndarray | None = None
    returns: np.ndarray | None = None  # PPO: the critic's targets, (S,) float64

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.anchor not in ("state_hash", "observation"):
            raise ValueError(f"anchor must be 'state_hash' or 'observation', got {self.anchor!r}")
        if self.penalty_mode not in PENALTY_MODES:
            raise ValueError(f"penalty_mode must be one of {PENALTY_MODES}, got {self.penalty_mode!r}")
        self.reset()

    def reset(self) -> None:
        self._records: list[StepRecord] = []
        # the advantages' inputs, one column each, read from a step when it is added; anchor keys are interned as
        # steps arrive, so the advantages group small ints and never sort 32-character strings
        self._columns: dict[str, list[Any]] = {k: [] for k in COLUMNS}
        self._anchor_table: dict[str, int] = {}
        self.advantages = None
        self.returns = None

    def add(self, record: StepRecord) -> None:
        self._records.append(record)
        key = record.state_hash if self.anchor == "state_hash" else record.observation
        columns = self._columns
        columns["rewards"].append(record.reward)
        columns["penalties"].append(record.penalty)
        columns["group_ids"].append(record.group_id)
        columns["traj_ids"].append(record.traj_id)
        columns["anchors"].append(self._anchor_table.setdefault(key, len(self._anchor_table)))

    @property
    def records(self) -> list[StepRecord]:
        """The stored steps in arrival order. Store with :meth:`add` (or assign a list): a step's reward, penalty,
        ids and anchor key are read when it is stored."""
        return self._records

    @records.setter
    def records(self, records: list[StepRecord]) -> None:
        """Replace the stored steps (as :meth:`reset` then :meth:`add` of each), keeping the advantages."""
        advantages, returns = self.advantages, self.returns
        self.reset()
        for record in records:
            self.add(record)
        self.advantages, self.returns = advantages, returns

    def __len__(self) -> int:
        return len(self.records)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat ``(S,)`` arrays of rewards, per-row penalties, group/trajectory ids and anchor keys (int64 codes of
        the interned state hashes or observations).

        With ``penalty_mode="reward"`` the penalties are already in the rewards (and zero).
        """
        c = self._columns
        rewards, penalties = np.array(c["rewards"], dtype=np.float64), np.array(c["penalties"], dtype=np.float64)
        if self.penalty_mode == "reward" or self.estimator == "ppo":
            rewards, penalties = rewards + penalties, np.zeros_like(penalties)
        return {
            "rewards": rewards,
            "penalties": penalties,
            **{k: np.array(c[k], dtype=np.int64) for k in ("group_ids", "traj_ids", "anchors")},
        }

    def compute_advantages(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """One float64 advantage per stored step, with the configured estimator (``rng``: the anchor permutation's
        stream, which ``"gigpo-permuted"`` needs)."""
        a = self.arrays()
        if self.estimator in ("gigpo", "gigpo-permuted"):
            anchors = a["anchors"]
            if self.estimator == "gigpo-permuted":
                if rng is None:
                    raise ValueError("estimator 'gigpo-permuted' needs rng= (the anchor permutation's stream)")
                anchors = permuted_anchor_keys(a["group_ids"], anchors, rng)
            adv = gigpo_advantages(
                a["rewards"],
                a["group_ids"],
                a["traj_ids"],
                anchors,
                gamma=self.gamma,
                omega=self.omega,
                norm=self.norm,
                episode_stats=self.episode_stats,
                penalties=a["penalties"],
            )
        elif self.estimator == "grpo":
            adv = grpo_advantages(
                a["rewards"],
                a["group_ids"],
                a["traj_ids"],
                norm=self.norm,
                episode_stats=self.episode_stats,
                penalties=a["penalties"],
            )
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
            a["rewards"],
            a["traj_ids"],
            values,
            np.fromiter((r.truncated for r in recs), bool, len(recs)),
            np.fromiter((r.next_value for r in recs), np.float64, len(recs)),
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            group_ids=a["group_ids"],
        )
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

    def batch(self, rows: np.ndarray) -> RolloutBatch:
        """The steps ``rows`` (indices into the round) as one typed batch."""
        if self.advantages is None:
            raise RuntimeError("compute_advantages() before reading batches")
        rows = np.asarray(rows, dtype=np.int64)
        records = self.records
        critic = self.estimator == "ppo"
        return RolloutBatch(
            rows,
            [records[j] for j in rows],
            np.asarray(self.advantages, dtype=np.float64)[rows],
            np.array([records[j].value for j in rows], dtype=np.float64) if critic else None,
            np.asarray(self.returns, dtype=np.float64)[rows] if critic else None,
        )

    def minibatches(
        self, batch_size: int, rng: np.random.Generator, rows: np.ndarray | None = None
    ) -> Iterator[RolloutBatch]:
        """Shuffled batches of at most ``batch_size`` steps covering ``rows`` (default: all) once."""
        if self.advantages is None:
            raise RuntimeError("compute_advantages() before iterating mini-batches")
        order = rng.permutation(len(self.records) if rows is None else np.asarray(rows))
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start : start + batch_size])
