"""SB3 callbacks for GiGPO training."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from .evaluation import evaluate_records, record_table, reports_score, tabulate

__all__ = ["SuccessRateCallback"]


class SuccessRateCallback(BaseCallback):
    """Evaluates the success rate on fixed tasks every ``eval_freq`` rollout rounds.

    SB3's ``EvalCallback`` also works (on an eval env wrapped in
    :class:`~wrappers.agent_observation.AgentObservation`: one ``model.predict`` per step, mean reward); this one
    runs the policy batched over fixed tasks (:func:`trainer.evaluation.evaluate`) and logs ``eval/success_rate``
    and ``eval/success_<task type>`` (fractions, as SB3's), ``eval/score`` (the mean final score, for envs that
    report one: WebShop) and ``eval/episodes`` to the SB3 logger (:func:`trainer.evaluation.record_table`). It
    evaluates after the round's rollout, before its update, and leaves the training's random streams as they were.
    ``gigpo-train`` evaluates after the update instead (``eval_every``).

    Args:
        env_id: the registered env id to evaluate on.
        task_ids: the tasks (``reset(options={"task_id": i})``) to evaluate.
        env_kwargs: ``gym.make`` keyword arguments (split, step limit ...).
        eval_freq: evaluate after every ``eval_freq``-th rollout round.
        episodes_per_task: sampled episodes per task.
        deterministic: pick the most likely action instead of sampling.
        seed: seed of the sampling, so evaluations are comparable.
        verbose: 1 prints each evaluation.
    """

    def __init__(
        self,
        env_id: str,
        task_ids: list[int],
        env_kwargs: dict[str, Any] | None = None,
        eval_freq: int = 1,
        episodes_per_task: int = 1,
        deterministic: bool = False,
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got {eval_freq}")
        if not task_ids:
            raise ValueError("task_ids must name at least one task")
        self.env_id, self.task_ids, self.env_kwargs = env_id, list(task_ids), env_kwargs
        self.eval_freq, self.episodes_per_task = eval_freq, episodes_per_task
        self.deterministic, self.seed = deterministic, seed
        self.rounds = 0
        self.history: list[tuple[int, float]] = []  # (num_timesteps, success %)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.rounds += 1
        if self.rounds % self.eval_freq:
            return
        records = evaluate_records(
            self.model,
            self.env_id,
            self.task_ids,
            env_kwargs=self.env_kwargs,
            episodes_per_task=self.episodes_per_task,
            deterministic=self.deterministic,
            seed=self.seed,
        )
        table = tabulate(records)
        self.history.append((self.num_timesteps, table["all"]))
        record_table(self.logger, table, len(records), reports_score(self.env_id))
        if self.verbose:
            print(f"eval at {self.num_timesteps} steps: success {table['all']:.1f}%")
