"""SB3's and Gymnasium's tools on a GiGPO model and the text envs: ``predict`` on the env's own output,
``evaluate_policy``, ``EvalCallback``, ``learn(rounds=...)``, ``CheckpointCallback`` and async vector envs."""

from __future__ import annotations

import multiprocessing
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import gigpo_gym
from gigpo_gym.spaces import AnyText
from trainer.gigpo import GiGPO
from wrappers.agent_observation import AgentObservation

ENV_IDS = gigpo_gym.ENV_IDS
STEPS = 3  # the step limit of every env here: a round is 3 vector steps (no task is won in fewer)


def make_model(tiny_path: str, env_id: str = "ALFWorld-text-v0", **kw) -> GiGPO:
    """The tiny model in score mode on one group of 2 copies."""
    kw = dict(n_groups=1, group_size=2, batch_size=8, micro_batch_size=4, seed=0, **kw)
    return GiGPO(
        "LLMPolicy",
        env_id,
        env_kwargs=dict(max_episode_steps=STEPS),
        policy_kwargs=dict(model_name_or_path=tiny_path, action_mode="score"),
        **kw,
    )


@pytest.fixture(scope="module", params=ENV_IDS)
def trained(request, tiny_path) -> GiGPO:
    """A model trained one round on the param's env (tests must not train it further)."""
    model = make_model(tiny_path, request.param)
    model.learn(rounds=1)
    assert model.num_timesteps == 2 * STEPS
    return model


def env_id_of(model: GiGPO) -> str:
    assert model.env is not None and model.env.env_id is not None
    return model.env.env_id


def reference_episode(model: GiGPO, env: gym.Env, seed: int | None) -> tuple[list[str], float, int]:
    """One deterministic episode played through ``model.act`` with a history kept here: commands, return, length."""
    obs, info = env.reset(seed=seed)
    history: list[tuple[str, str]] = []
    commands, total, done = [], 0.0, False
    while not done:
        command = model.act([info["goal"]], [list(history)], [obs["text"]], [info["admissible_commands"]], True)[1][0]
        history.append((obs["text"], command))
        commands.append(command)
        obs, reward, terminated, truncated, info = env.step(command)
        total, done = total + float(reward), terminated or truncated
    return commands, total, len(commands)


def spy_act(model: GiGPO, monkeypatch) -> list[tuple[int, str]]:
    """Records (history length, command) of every state ``model.act`` is asked about."""
    seen: list[tuple[int, str]] = []
    act = model.act

    def spy(goals, histories, observations, admissible, *args, **kwargs):
        out = act(goals, histories, observations, admissible, *args, **kwargs)
        seen.extend((len(h), c) for h, c in zip(histories, out[1], strict=True))
        return out

    monkeypatch.setattr(model, "act", spy)
    return seen


# ------------------------------------------------------------------ predict


def test_predict_takes_what_reset_and_step_return_and_keeps_the_history_in_its_state(trained):
    env_id = env_id_of(trained)
    env = gym.make(env_id, max_episode_steps=STEPS)
    expected, _, _ = reference_episode(trained, env, seed=3)
    obs, info = env.reset(seed=3)
    state, done, commands = None, False, []
    while not done:
        command, state = trained.predict(obs, state, info=info, deterministic=True)
        assert isinstance(command, str)  # one observation, one action: what env.step takes (SB3's convention)
        commands.append(command)
        assert len(state) == 1 and len(state[0]) == len(commands) and state[0][-1] == (obs["text"], command)
        obs, _, terminated, truncated, info = env.step(command)
        done = terminated or truncated
    assert commands == expected
    # the wrapper's observation carries the goal and the commands: no info needed
    wrapped = AgentObservation(gym.make(env_id, max_episode_steps=STEPS))
    obs, _ = wrapped.reset(seed=3)
    assert trained.predict(obs, deterministic=True)[0] == expected[0]
    # the env's bare observation names what is missing and where to get it, in one line
    with pytest.raises(ValueError, match="no 'goal' and no info gives it.*AgentObservation") as error:
        trained.predict(env.reset(seed=3)[0])
    assert "\n" not in str(error.value)


def test_predict_takes_gymnasium_vector_batches_and_restarts_episodes_with_episode_start(tiny_path):
    model = make_model(tiny_path)
    envs = gym.make_vec("ALFWorld-text-v0", 2, vectorization_mode="sync", max_episode_steps=STEPS)
    obs, info = envs.reset(seed=[4, 5])  # a dict of per-env tuples, and info as per-key arrays
    commands, state = model.predict(obs, info=info, deterministic=True)
    singles = [
        model.predict(o, info=i, deterministic=True)[0]
        for o, i in (gym.make("ALFWorld-text-v0").reset(seed=s) for s in (4, 5))
    ]
    assert commands == singles and len(state) == 2
    obs, _, _, _, info = envs.step(tuple(commands))
    _, state = model.predict(obs, state, episode_start=np.array([False, True]), info=info, deterministic=True)
    assert [len(h) for h in state] == [2, 1]  # env 1's episode was said to start: its history begins again
    with pytest.raises(ValueError, match="state must be the state predict returned for these 1 observation"):
        model.predict([{"text": "x", "goal": "g", "admissible_commands": ["look"]}], state)


# ------------------------------------------------------------------ SB3's evaluation


def test_evaluate_policy_returns_the_mean_reward_of_a_trained_model(trained, monkeypatch):
    env_id = env_id_of(trained)
    reference = gym.make(env_id, max_episode_steps=STEPS)
    # the same tasks as the vector env's: its seed, then the auto-reset's next draw from the same generator
    episodes = [reference_episode(trained, reference, seed) for seed in (11, None)]
    vec = DummyVecEnv([lambda: Monitor(AgentObservation(gym.make(env_id, max_episode_steps=STEPS)))])
    vec.seed(11)
    seen = spy_act(trained, monkeypatch)
    returns, lengths = evaluate_policy(trained, vec, n_eval_episodes=2, return_episode_rewards=True)
    assert [c for _, c in seen] == [c for commands, _, _ in episodes for c in commands]
    # the state carried each episode's history and episode_start cleared it between the two episodes
    assert [n for n, _ in seen] == [n for _, _, length in episodes for n in range(length)]
    assert returns == pytest.approx([r for _, r, _ in episodes]) and lengths == [n for _, _, n in episodes]
    mean, std = evaluate_policy(trained, Monitor(AgentObservation(gym.make(env_id, max_episode_steps=STEPS))), 2)
    assert np.isfinite(mean) and np.isfinite(std)


def test_evaluate_policy_on_the_bare_env_names_the_wrapper(trained):
    env = Monitor(gym.make(env_id_of(trained), max_episode_steps=STEPS))  # SB3's DummyVecEnv now holds text spaces
    with pytest.raises(ValueError, match="AgentObservation") as error:
        evaluate_policy(trained, env, n_eval_episodes=1)
    assert "\n" not in str(error.value)


def test_eval_callback_evaluates_during_learn_and_a_bare_eval_env_is_refused_before_any_round(tiny_path, tmp_path):
    model = make_model(tiny_path)
    eval_env = Monitor(AgentObservation(gym.make("ALFWorld-text-v0", max_episode_steps=STEPS)))
    callback = EvalCallback(eval_env, eval_freq=2, n_eval_episodes=2, log_path=str(tmp_path), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nor SB3's "not of the same type" warning about GroupVecEnv
        model.learn(rounds=2, callback=callback)
    # eval_freq counts on_step calls (vector steps): 2 rounds of 3 make 6 calls, 3 evaluations at 2 x n_envs steps
    assert callback.evaluations_timesteps == [4, 8, 12]
    assert np.shape(callback.evaluations_results) == (3, 2)
    assert [len(s) for s in callback.evaluations_successes] == [2, 2, 2]  # the envs' info["is_success"]
    assert callback.last_mean_reward == pytest.approx(np.mean(callback.evaluations_results[-1]))
    before = model.num_timesteps
    bare = EvalCallback(gym.make("ALFWorld-text-v0", max_episode_steps=STEPS), eval_freq=1)  # constructs: SB3's own
    with pytest.raises(ValueError, match="AgentObservation.*trainer.callbacks.SuccessRateCallback") as error:
        model.learn(rounds=1, callback=[bare], reset_num_timesteps=False)
    assert "\n" not in str(error.value) and model.num_timesteps == before


# ------------------------------------------------------------------ budgets and callbacks' units


class CountEvents(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = self.rounds = 0
        self.step_timesteps: list[int] = []
        self.learning_rates: list[float] = []  # the optimiser's at the start of each round

    def _on_step(self) -> bool:
        self.steps += 1
        self.step_timesteps.append(self.num_timesteps)
        return True

    def _on_rollout_start(self) -> None:
        self.learning_rates.append(self.model.policy.optimizer.param_groups[0]["lr"])

    def _on_rollout_end(self) -> None:
        self.rounds += 1


def test_learn_runs_rounds_and_the_schedule_follows_them(tiny_path):
    model = make_model(tiny_path, learning_rate=lambda remaining: 1e-3 * remaining)
    counter = CountEvents()
    model.learn(rounds=2, callback=counter)
    assert counter.rounds == 2 and model._n_updates == 2 * model.n_epochs
    # each round's update runs at the schedule's value for the fraction of rounds left
    assert counter.learning_rates == pytest.approx([1e-3, 5e-4])
    assert model.policy.optimizer.param_groups[0]["lr"] == 0.0
    # a timestep is one env copy's vector step (SB3's count): on_step comes once per vector step of n_envs copies
    assert counter.step_timesteps == [2 * k for k in range(1, counter.steps + 1)]
    assert model.num_timesteps == 2 * counter.steps and counter.steps <= 2 * STEPS
    model.learn(total_timesteps=1, callback=counter)  # SB3's budget: whole rounds until it is reached, here one
    assert counter.rounds == 3
    with pytest.raises(TypeError, match="total_timesteps or rounds"):
        model.learn()
    with pytest.raises(ValueError, match="not both"):
        model.learn(total_timesteps=10, rounds=1)
    with pytest.raises(ValueError, match="rounds must be an integer >= 1, got 0"):
        model.learn(rounds=0)


def test_checkpoint_callback_counts_vector_steps_and_saves_over_two_rounds(tiny_path, tmp_path):
    model = make_model(tiny_path)
    counter = CountEvents()
    save_freq = STEPS  # documented unit: on_step calls, one per vector step; a round makes at most STEPS of them
    checkpoints = CheckpointCallback(save_freq=save_freq, save_path=str(tmp_path), name_prefix="g")
    model.learn(rounds=2, callback=[counter, checkpoints])
    assert counter.rounds == 2 and STEPS < counter.steps <= 2 * STEPS
    n_envs = model.env.num_envs if model.env is not None else 0
    saved = sorted(p.name for p in tmp_path.glob("g_*_steps.zip"))
    expected = [f"g_{k * save_freq * n_envs}_steps.zip" for k in range(1, counter.steps // save_freq + 1)]
    assert saved == sorted(expected) and saved
    loaded = GiGPO.load(tmp_path / expected[-1])
    assert loaded.num_timesteps == counter.steps // save_freq * save_freq * n_envs


# ------------------------------------------------------------------ async vector envs


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_async_make_vec_with_shared_memory_resets_and_steps_as_sync(env_id):
    seeds = [2, 9]
    runs = []
    for mode in ("async", "sync"):  # async: Gymnasium's defaults, shared memory on
        envs = gym.make_vec(env_id, 2, vectorization_mode=mode)
        obs, info = envs.reset(seed=seeds)
        commands = tuple(info["admissible_commands"][i][-1] for i in range(2))
        stepped = envs.step(commands)
        envs.close()
        runs.append(((tuple(obs["text"]), tuple(obs["state_hash"])), commands, stepped))
    (reset_a, commands_a, step_a), (reset_s, commands_s, step_s) = runs
    assert reset_a == reset_s and commands_a == commands_s
    assert tuple(step_a[0]["text"]) == tuple(step_s[0]["text"]) != reset_a[0]  # the step's text, not a stale read
    assert tuple(step_a[0]["state_hash"]) == tuple(step_s[0]["state_hash"])
    for a, s in zip(step_a[1:4], step_s[1:4], strict=True):
        np.testing.assert_array_equal(a, s)


def test_any_text_shared_memory_holds_any_unicode_and_refuses_an_overlong_text():
    space = AnyText(max_length=12, min_length=0)
    memory = create_shared_memory(space, n=3, ctx=multiprocessing)
    texts = ["go to desk-1", "naïve – ☕ 𝄞", ""]
    for index, text in enumerate(texts):
        write_to_shared_memory(space, index, text, memory)
    view = read_from_shared_memory(space, memory, n=3)
    assert tuple(view) == tuple(texts)
    write_to_shared_memory(space, 2, "later", memory)
    assert view[2] == "later"  # read when asked, as the numeric spaces' views are
    with pytest.raises(ValueError, match="13 characters exceeds its space's max_length 12"):
        write_to_shared_memory(space, 0, "x" * 13, memory)
