"""PPO with a learned critic: the value head, GAE in the trainer, the value loss, save/load and the CLI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from trainer.advantages import discounted_returns
from trainer.cli import train as train_cli
from trainer.gigpo import GiGPO
from trainer.loss import value_loss

from .test_cli import SMALL, sets

GAMMA = 0.95


class Corridor(gym.Env):
    """Three rooms walked in order with one admissible command; the third step pays 1. Deterministic."""

    observation_space = gym.spaces.Text(256)
    action_space = gym.spaces.Text(256)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.room = 0
        return self._obs(), self._info()

    def _obs(self) -> str:
        return f"You are in room {self.room}."

    def _info(self) -> dict:
        return {"admissible_commands": ["walk on"], "goal": "reach the end of the corridor", "won": self.room == 3}

    def step(self, action):
        self.room += 1
        return self._obs(), float(self.room == 3), self.room == 3, False, self._info()


def _ppo(tiny_path, env=Corridor, **kwargs):
    args = dict(
        n_groups=1,
        group_size=2,
        batch_size=16,
        micro_batch_size=8,
        seed=0,
        kl_coef=0.0,
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
    )
    return GiGPO("LLMPolicy", env, estimator="ppo", gamma=GAMMA, **{**args, **kwargs})


def _corridor_values(model) -> np.ndarray:
    """The critic's V of the corridor's three states, as the rollout prompts them."""
    history, prompts = [], []
    for room in range(3):
        obs = f"You are in room {room}."
        prompts.append(model.prompt("reach the end of the corridor", list(history), obs, ["walk on"]))
        history.append((obs, "walk on"))
    with torch.no_grad():
        return model.policy.values(model.policy.state_ids(prompts)).numpy()


def test_the_value_head_learns_the_return_of_a_deterministic_episode(tiny_path):
    # one admissible command: log pi = 0 exactly, so only the critic has anything to learn
    model = _ppo(tiny_path, learning_rate=1e-3, vf_coef=1.0, clip_range_vf=None)
    target = np.array([GAMMA**2, GAMMA, 1.0])
    before = np.abs(_corridor_values(model) - target).max()
    for _ in range(40):
        model.learn(total_timesteps=1)
    after = np.abs(_corridor_values(model) - target).max()
    assert before > 0.5 and after < 0.05, (before, after, _corridor_values(model))
    assert model.last_train_stats["value_loss"] < 1e-3


def test_a_cut_episode_is_bootstrapped_from_its_next_states_value(tiny_path):
    model = _ppo(
        tiny_path,
        env=lambda: gym.wrappers.TimeLimit(Corridor(), max_episode_steps=2),
        gae_lambda=0.5,
        normalize_advantage=False,
    )
    _, callback = model._setup_learn(1)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, 1)
    buffer = model.rollout_buffer
    records = buffer.records
    assert [r.truncated for r in records] == [False, False, True, True]  # rows: t0 of both copies, then t1
    cut = records[2]
    values = _corridor_values(model)
    np.testing.assert_allclose([r.value for r in records], values[[0, 0, 1, 1]], rtol=1e-5)
    assert cut.next_value == pytest.approx(float(values[2]), rel=1e-5)  # V(room 2): the state after the cut
    assert buffer.returns[2] == pytest.approx(0.0 + GAMMA * cut.next_value, rel=1e-6)
    assert records[0].next_state_ids is None and records[0].next_value == 0.0


def test_value_loss_clips_the_change_from_the_rollouts_value():
    values, old, returns = torch.tensor([2.0, 0.1]), torch.tensor([0.0, 0.0]), torch.tensor([3.0, 0.0])
    # row 0 moved 2 from its rollout value toward a target of 3: the clipped prediction (0.5) is further from the
    # target, so the pessimistic loss is 0.5 * 2.5^2; row 1 stays inside the clip: its plain loss
    np.testing.assert_allclose(value_loss(values, old, returns, 0.5).numpy(), [0.5 * 2.5**2, 0.5 * 0.01], rtol=1e-6)
    np.testing.assert_allclose(value_loss(values, old, returns, None).numpy(), [0.5, 0.5 * 0.01], rtol=1e-6)


@pytest.mark.parametrize("use_lora", [False, True])
def test_the_critic_is_saved_and_restored(tiny_path, tmp_path, use_lora):
    model = _ppo(tiny_path, learning_rate=1e-2, policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=use_lora))
    untrained = model.policy.value_head.weight.detach().clone()
    model.learn(total_timesteps=1)
    assert not torch.equal(untrained, model.policy.value_head.weight)  # the head trained
    path = model.save(tmp_path / "ppo")
    loaded = GiGPO.load(path, env=Corridor)
    assert loaded.estimator == "ppo" and loaded.vf_coef == model.vf_coef and loaded.clip_range_vf == 0.5
    for name, tensor in model.policy.value_head.state_dict().items():
        torch.testing.assert_close(loaded.policy.value_head.state_dict()[name], tensor, rtol=0, atol=0)
    np.testing.assert_allclose(_corridor_values(loaded), _corridor_values(model), rtol=1e-6)
    # the optimiser's moments of the head come back too: both continue identically
    model.learn(total_timesteps=1)
    loaded.learn(total_timesteps=1)
    torch.testing.assert_close(loaded.policy.value_head.weight, model.policy.value_head.weight)


def test_with_no_value_loss_and_lambda_one_the_gradient_is_the_monte_carlo_policy_gradient(tiny_path):
    """On a fixed ALFWorld round: advantages G_t - V(s_t) and the loss's gradient -mean_t (G_t - V) grad log pi."""
    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        estimator="ppo",
        n_groups=2,
        group_size=2,
        batch_size=64,
        micro_batch_size=5,
        seed=0,
        kl_coef=0.0,
        vf_coef=0.0,
        gae_lambda=1.0,
        normalize_advantage=False,
        max_grad_norm=1e9,
        env_kwargs=dict(max_episode_steps=6, max_receptacles=3),
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
    )
    _, callback = model._setup_learn(1)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, 1)
    buffer = model.rollout_buffer
    records = buffer.records
    a = buffer.arrays()
    values = np.array([r.value for r in records])
    assert np.all(values != 0.0)
    # every episode is cut at 6 steps here unless won: bootstrapped G_t = sum gamma^k r + gamma^(T-t) V(s_T)
    boot = np.zeros(len(records))
    for traj in np.unique(a["traj_ids"]):
        rows = np.flatnonzero(a["traj_ids"] == traj)
        if records[rows[-1]].truncated:
            boot[rows] = GAMMA ** (len(rows) - np.arange(len(rows))) * records[rows[-1]].next_value
    mc = discounted_returns(a["rewards"], a["traj_ids"], GAMMA, group_ids=a["group_ids"]) + boot
    np.testing.assert_allclose(buffer.advantages, mc - values, rtol=1e-6, atol=1e-6)

    model.policy.set_training_mode(False)
    model._fill_reference_logprobs(records, with_reference=False)
    model.policy.set_training_mode(True)
    params = model.policy.trainable_parameters()
    totals = dict.fromkeys(["pg", "kl", "clipped", "entropy", "tokens", "loss", "value_loss", "rows"], 0.0)
    lr = model.policy.optimizer.param_groups[0]["lr"]
    model.policy.optimizer.param_groups[0]["lr"] = 0.0  # keep the weights: the gradient is what is compared
    model._minibatch_update(buffer.batch(np.arange(len(records))), totals, params)
    model.policy.optimizer.param_groups[0]["lr"] = lr
    got = [p.grad.clone() for p in params]

    logp, _, _ = model._logprobs(records)
    objective = -(torch.as_tensor(mc - values, dtype=torch.float32) * logp[:, 0]).mean()
    expected = torch.autograd.grad(objective, params, allow_unused=True)
    for g, e, p in zip(got, expected, params, strict=True):
        torch.testing.assert_close(g, torch.zeros_like(p) if e is None else e, rtol=1e-3, atol=1e-6)
    assert any(float(e.abs().sum()) > 0 for e in expected if e is not None)


def test_ppo_refuses_a_value_head_in_the_policy_kwargs(tiny_path):
    with pytest.raises(ValueError, match="policy_kwargs must not set value_head"):
        _ppo(tiny_path, policy_kwargs=dict(model_name_or_path=tiny_path, value_head=True))


@pytest.mark.parametrize(
    ("env", "extra"),
    [
        ("ALFWorld-text-v0", ["use_lora=true"]),  # score mode, LoRA
        ("WebShop-text-v0", ["eval_split=test", "history_length=1", "action_mode=generate", "max_new_tokens=8"]),
    ],
)
def test_gigpo_train_algo_ppo_runs_on_both_envs(tiny_path, tmp_path, env, extra):
    run_dir = tmp_path / "run"
    argv = [
        "--env",
        env,
        "--algo",
        "ppo",
        "--model",
        tiny_path,
        "--rounds",
        "1",
        "--run-dir",
        str(run_dir),
        "--no-progress",
    ]
    assert train_cli.main(argv + sets(*SMALL, *extra)) == 0
    header = (run_dir / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"train/value_loss", "train/explained_variance"} <= set(header)
    assert GiGPO.load(run_dir / "checkpoint.zip").policy.value_head is not None
