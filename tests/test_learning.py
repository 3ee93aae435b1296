"""Learning runs (slow, not in CI: ``python -m pytest -m slow tests/test_learning.py``)."""

from __future__ import annotations

import pytest

import gigpo_gym  # noqa: F401
from trainer.config import resolve_config
from trainer.evaluation import evaluate
from trainer.training import build_model, eval_task_ids


@pytest.mark.slow
def test_gigpo_raises_the_webshop_score_of_the_tiny_policy():
    """The cpu-webshop preset (20 rounds of GiGPO, a few minutes on 2 cores) lifts the tiny model's WebShop score."""
    config = resolve_config("cpu-webshop", seed=0)
    model = build_model(config)
    tasks, kwargs = eval_task_ids(config), config.gym_kwargs(config.eval_split)
    before = evaluate(model, config.env, tasks, env_kwargs=kwargs, seed=0)
    for done in range(config.rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
    after = evaluate(model, config.env, tasks, env_kwargs=kwargs, seed=0)
    assert after["score"] >= before["score"] + 5.0, (before, after)


@pytest.mark.slow
def test_the_quickstart_learns_clearly_on_its_default_seed():
    """The README's main job (cpu-quickstart, seed 0, about 5 minutes on 2 cores): 20 rounds of GiGPO in the exact
    score mode take success on the 35 held-out valid_seen pick tasks (x 4 sampled episodes) to more than 2x its start.

    Measured (2026-12-02, std normalisation, one thread): 10.0% -> 23.6% (x2.36; the issue's target of 3x is not
    met). Thread counts change floating-point reductions, hence the margin; benchmarks/RESULTS.md ("quickstart") has
    seeds 0-4.
    """
    config = resolve_config("cpu-quickstart", seed=0)
    model = build_model(config)
    tasks, kwargs = eval_task_ids(config), config.gym_kwargs(config.eval_split)
    evaluation = dict(env_kwargs=kwargs, episodes_per_task=config.eval_episodes, seed=0)
    before = evaluate(model, config.env, tasks, **evaluation)["all"]
    for done in range(config.rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
    after = evaluate(model, config.env, tasks, **evaluation)["all"]
    assert after > 2.0 * before, (before, after)


@pytest.mark.slow
def test_gigpo_is_ahead_of_grpo_on_the_quickstart_over_the_study_seeds(tmp_path):
    """The direction the estimator study found on the quickstart's setting (benchmarks/RESULTS.md,
    "study_alfworld_small"): GiGPO as the quickstart trains it (std normalisation) against GRPO, both at the study's
    tuned lr 3e-3, on the study's report seeds 0-4, run by the study's own runner (two cells at a time, one thread
    each: about 50 minutes on 2 cores). The mean paired difference in evaluation success is positive.

    Measured by the study (2026-12-03): +5.3 points (95% interval +0.9 to +9.7; per seed +0.0, +8.6, +7.9, +3.6, +6.4).
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cells = [(arm, seed) for seed in range(5) for arm in ("gigpo-std", "grpo")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for pair in (cells[i : i + 2] for i in range(0, len(cells), 2)):
        running = [
            subprocess.Popen(
                [
                    sys.executable,
                    "benchmarks/bench_study.py",
                    "run",
                    "--setting",
                    "alfworld-small",
                    "--arm",
                    arm,
                    "--lr",
                    "3e-3",
                    "--seed",
                    str(seed),
                    "--out",
                    str(tmp_path),
                ],
                cwd=root,
                env=env,
            )
            for arm, seed in pair
        ]
        assert [p.wait() for p in running] == [0, 0]

    def success(arm: str, seed: int) -> float:
        cell = json.loads((tmp_path / "alfworld-small" / f"{arm}-lr0.003-seed{seed}.json").read_text())
        return cell["after"]["success"]

    diffs = [success("gigpo-std", seed) - success("grpo", seed) for seed in range(5)]
    assert sum(diffs) / len(diffs) > 0, diffs
