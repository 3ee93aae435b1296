"""GiGPO trainer on the offline tiny model: loss, LoRA, KL, learn, save/load, callbacks, errors."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import CheckpointCallback

import gigpo_gym
from trainer.buffer import GroupRolloutBuffer, StepRecord
from trainer.callbacks import SuccessRateCallback
from trainer.gigpo import GiGPO
from trainer.loss import policy_loss
from trainer.policy import LLMPolicy
from wrappers.group_env import GroupVecEnv

SMALL = dict(n_groups=2, group_size=2, env_kwargs=dict(max_episode_steps=3), batch_size=8, micro_batch_size=4, seed=0)


def make_model(tiny_path, mode="score", env_id="ALFWorld-text-v0", **kw):
    policy_kwargs = dict(model_name_or_path=tiny_path, action_mode=mode, max_new_tokens=8, use_lora=True)
    policy_kwargs.update(kw.pop("policy_kwargs", {}))
    return GiGPO("LLMPolicy", env_id, policy_kwargs=policy_kwargs, **{**SMALL, **kw})


def test_loss_matches_a_hand_computation():
    # Two one-step trajectories of one group with 2 and 1 response tokens; advantages +0.5 / -0.5.
    logp = torch.tensor([[-1.0, -2.0], [0.0, -0.5]])
    old = torch.tensor([[-1.5, -2.0], [0.0, -0.2]])
    ref = torch.tensor([[-1.0, -1.0], [0.0, -0.5]])
    mask = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    adv = torch.tensor([0.5, -0.5])
    loss, stats = policy_loss(logp, old, ref, adv, mask, clip_range=0.2, kl_coef=0.1)
    r1, r2, r3 = math.exp(0.5), 1.0, math.exp(-0.3)
    pg = [-min(r1 * 0.5, 1.2 * 0.5), -min(r2 * 0.5, r2 * 0.5), -min(r3 * -0.5, 0.8 * -0.5)]
    kl = [0.0, math.exp(1.0) - 1.0 - 1.0, 0.0]
    expected = sum(p + 0.1 * k for p, k in zip(pg, kl)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats["clipped"] == 2.0  # ratios e^0.5 and e^-0.3 leave [0.8, 1.2]
    assert stats["kl"] == pytest.approx(kl[1], rel=1e-6)


def _record(reward, penalty, traj, step, anchor):
    return StepRecord([1], [2], np.zeros(1, np.float32), reward, penalty, anchor, "o", 0, traj, step)


@pytest.mark.parametrize(
    "mode, expected",
    [
        # the penalty in the step reward: trajectory A's return falls to 0.9 for both its rows; mean 0.45
        ("reward", [0.45, 0.45, -0.45]),
        # the reference: only the invalid row's value falls (0.9, 1.0); each trajectory counts once: mean 0.475
        ("row", [0.425, 0.525, -0.475]),
    ],
)
def test_buffer_applies_the_invalid_action_penalty_per_mode(mode, expected):
    buffer = GroupRolloutBuffer(estimator="gigpo", penalty_mode=mode)  # unique anchors: the episode part only
    for record in (_record(0.0, -0.1, 0, 0, "a"), _record(1.0, 0.0, 0, 1, "b"), _record(0.0, 0.0, 1, 0, "c")):
        buffer.add(record)
    np.testing.assert_allclose(buffer.compute_advantages(), expected, rtol=1e-12)
    assert list(buffer.step_group_sizes()) == [1, 1, 1]
    with pytest.raises(ValueError, match="estimator"):
        GroupRolloutBuffer(estimator="a2c")
    with pytest.raises(ValueError, match="penalty_mode.*'row', 'reward'"):
        GroupRolloutBuffer(penalty_mode="late")


def test_signal_rows_keep_groups_with_step_level_signal():
    # group 0: equal returns but a shared anchor with different returns-to-go (step signal); group 1: no signal
    buffer = GroupRolloutBuffer(estimator="gigpo")
    rows = [(0, 0, 0.0, "s"), (0, 0, 1.0, "t"), (0, 1, 0.0, "t"), (0, 1, 1.0, "u"), (1, 2, 0.0, "v"), (1, 3, 0.0, "v")]
    for group, traj, reward, anchor in rows:
        buffer.add(StepRecord([1], [2], np.zeros(1, np.float32), reward, 0.0, anchor, "o", group, traj, 0))
    adv = buffer.compute_advantages()
    assert np.all(adv[4:] == 0.0) and np.any(adv[:4] != 0.0)
    assert list(buffer.signal_rows()) == [True] * 4 + [False] * 2


def test_only_lora_parameters_get_gradients_and_kl_starts_at_zero(tiny_path):
    model = make_model(tiny_path, batch_size=16)  # the round's steps (at most 12) in one mini-batch
    buffer = model.rollout_buffer
    advantages = buffer.compute_advantages
    noise = np.random.default_rng(0)
    # random advantages, so that the first round surely takes an optimiser step; its one mini-batch measures the KL
    # before the step, when the adapter is still zero and the policy is its reference
    buffer.compute_advantages = lambda rng=None: setattr(buffer, "advantages", noise.normal(size=len(advantages(rng))))
    model.learn(total_timesteps=1)
    assert model.last_train_stats["optimizer_steps"] == 1
    assert model.last_train_stats["kl"] == pytest.approx(0.0, abs=1e-7)
    del buffer.compute_advantages
    # Random advantages on the collected steps, so that the policy loss has a gradient.
    buffer.advantages = np.random.default_rng(0).normal(size=len(buffer))
    model.train()
    named = dict(model.policy.model.named_parameters())
    trained = {n for n, p in named.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained and all("lora_" in n for n in trained)
    assert all(not p.requires_grad for n, p in named.items() if "lora_" not in n)


@pytest.mark.parametrize("use_lora", [True, False])
def test_gradient_checkpointing_recomputes_layers_and_keeps_the_gradients(tiny_path, monkeypatch, use_lora):
    from transformers import modeling_utils

    calls = []
    real = modeling_utils.checkpoint
    monkeypatch.setattr(modeling_utils, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=1, group_size=2)
    spaces = env.observation_space, env.action_space
    prompts, responses = [[5, 6, 7, 8, 9], [10, 11, 12]], [[13, 14], [15, 16, 17]]
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)  # the same LoRA initialisation both times
        policy = LLMPolicy(
            *spaces, model_name_or_path=tiny_path, use_lora=use_lora, gradient_checkpointing=checkpointing
        )
        if use_lora:  # B = 0 at the start would leave A without a gradient
            for name, p in policy.model.named_parameters():
                if "lora_B" in name:
                    p.data.normal_()
        policy.set_training_mode(True)
        logp, mask, _ = policy.response_logprobs(prompts, responses)
        (logp * mask).sum().backward()
        grads.append([p.grad.clone() for p in policy.trainable_parameters()])
        assert bool(calls) == checkpointing  # one recomputed call per layer when on, none when off
    assert len(calls) == 2  # the tiny model's 2 layers
    for plain, recomputed in zip(*grads, strict=True):
        torch.testing.assert_close(recomputed, plain, rtol=1e-5, atol=1e-7)


def test_full_fine_tuning_keeps_a_frozen_reference(tiny_path):
    model = make_model(tiny_path, policy_kwargs=dict(use_lora=False), learning_rate=1e-2)
    model.learn(total_timesteps=1)
    before = [p.detach().clone() for p in model.policy.reference.parameters()]
    trained_before = [p.detach().clone() for p in model.policy.model.parameters()]
    model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(model.rollout_buffer))
    model.train()
    assert all(torch.equal(a, b) for a, b in zip(before, model.policy.reference.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(trained_before, model.policy.model.parameters()))
    # The reference log-probs cached for the round's epochs are the frozen reference's, not the trained policy's.
    records = model.rollout_buffer.records[:4]
    with torch.no_grad():
        reference, _, _ = model._logprobs(records, reference=True)
        trained, _, _ = model._logprobs(records)
    cached = np.concatenate([r.ref_logprobs for r in records])
    np.testing.assert_allclose(cached, reference[:, 0].numpy(), atol=1e-5)
    assert not np.allclose(cached, trained[:, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize("env_id", gigpo_gym.ENV_IDS)
@pytest.mark.parametrize("mode", ["score", "generate"])
def test_one_learn_iteration_on_each_env(tiny_path, mode, env_id):
    model = make_model(tiny_path, mode=mode, env_id=env_id)
    assert env_id.split("-")[0] in model.env_description  # the prompt names the env
    model.learn(total_timesteps=1)
    assert model.num_timesteps >= 4 and model._n_updates == 1
    stats = model.round_stats
    assert 0.0 <= stats["rollout/invalid_action_rate"] <= 1.0
    assert stats["gigpo/mean_step_group_size"] >= 1.0
    if mode == "generate":  # an untrained tiny model rarely writes a valid <action> tag
        assert stats["rollout/invalid_action_rate"] > 0.0


def test_save_load_reproduces_predict(tiny_path, tmp_path):
    model = make_model(tiny_path, learning_rate=5e-2)
    model.learn(total_timesteps=1)
    model.save(tmp_path / "agent")
    loaded = GiGPO.load(tmp_path / "agent.zip")
    obs = {
        "text": "You arrive at fridge 1.",
        "goal": "put a mug in shelf.",
        "admissible_commands": ["look", "inventory", "go to shelf 1", "open fridge 1"],
    }
    a = model.policy.act(["x y z"], [obs["admissible_commands"]], deterministic=True)[0]
    b = loaded.policy.act(["x y z"], [obs["admissible_commands"]], deterministic=True)[0]
    np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-6)
    assert model.predict(obs, deterministic=True) == loaded.predict(obs, deterministic=True)
    assert not list(tmp_path.glob("*.tmp*"))  # the atomic write left no temporary file
    assert loaded.env_description == model.env_description
    assert loaded.prompt("g", [], "o", ["a"]) == model.prompt("g", [], "o", ["a"])


def test_checkpoint_callback_and_progress_bar(tiny_path, tmp_path):
    model = make_model(tiny_path)
    model.learn(total_timesteps=1, callback=CheckpointCallback(save_freq=2, save_path=str(tmp_path)), progress_bar=True)
    assert list(tmp_path.glob("rl_model_*_steps.zip"))


def test_clear_errors(tiny_path):
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=1, group_size=2)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LLMPolicy(env.observation_space, env.action_space, model_name_or_path="./no/such/model")
    with pytest.raises(ValueError, match="target_modules"):
        LLMPolicy(
            env.observation_space,
            env.action_space,
            model_name_or_path=tiny_path,
            use_lora=True,
            target_modules=["nope"],
        )
    with pytest.raises(ValueError, match="action_mode"):
        LLMPolicy(env.observation_space, env.action_space, model_name_or_path=tiny_path, action_mode="beam")
    with pytest.raises(ValueError, match="micro_batch_size"):
        make_model(tiny_path, batch_size=2, micro_batch_size=4)
    with pytest.raises(ValueError, match="group_size"):
        make_model(tiny_path, group_size=1)
    with pytest.raises(TypeError, match="GroupVecEnv"):
        GiGPO._wrap_env(object())


def test_success_rate_callback_logs_an_evaluation_per_round(tiny_path):
    model = make_model(tiny_path)
    callback = SuccessRateCallback("ALFWorld-text-v0", [0, 1], env_kwargs=dict(split="valid_seen", max_episode_steps=2))
    model.learn(total_timesteps=1, callback=callback)
    assert len(callback.history) == 1
    steps, success = callback.history[0]
    assert steps == model.num_timesteps and 0.0 <= success <= 100.0
    with pytest.raises(ValueError, match="eval_freq"):
        SuccessRateCallback("ALFWorld-text-v0", [0], eval_freq=0)


def test_evaluation_is_deterministic_for_a_seed(tiny_path):
    from trainer.evaluation import evaluate

    model = make_model(tiny_path)
    kwargs = dict(env_kwargs=dict(split="valid_seen", max_episode_steps=3), episodes_per_task=2)
    tasks = [0, 1, 2]
    first = evaluate(model, "ALFWorld-text-v0", tasks, seed=3, **kwargs)
    assert first == evaluate(model, "ALFWorld-text-v0", tasks, seed=3, **kwargs)
    assert set(first) >= {"all"} and all(0.0 <= v <= 100.0 for v in first.values())


def test_expert_demonstrations_are_admissible_and_seeded():
    from trainer.sft import expert_demonstrations

    demos = expert_demonstrations(5, task_types=["pick_and_place_simple"], seed=1)
    assert demos == expert_demonstrations(5, task_types=["pick_and_place_simple"], seed=1)
    assert all(d.command in d.admissible for d in demos)
    assert sum(1 for d in demos if not d.history) == 5  # five episodes, each from its start
    with pytest.raises(ValueError, match="task_types|holds no task"):
        expert_demonstrations(1, task_types=["juggle"])


def test_supervised_warm_start_lowers_the_loss_and_moves_the_reference(tiny_path):
    from trainer.sft import expert_demonstrations, supervised_warm_start

    model = make_model(tiny_path, policy_kwargs=dict(use_lora=False), learning_rate=3e-3)
    demos = expert_demonstrations(4, seed=0)
    losses = supervised_warm_start(model, demos, epochs=4, batch_size=8)
    assert np.mean(losses[-2:]) < np.mean(losses[:2])
    for a, b in zip(model.policy.model.parameters(), model.policy.reference.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="demos"):
        supervised_warm_start(model, [])


def test_dual_clip_and_kl_clamp():
    logp = torch.tensor([[math.log(5.0)], [0.0], [-30.0]])
    old = torch.zeros(3, 1)
    ref = torch.zeros(3, 1)
    mask = torch.ones(3, 1)
    adv = torch.tensor([-1.0, 1.0, 1.0])
    loss, stats = policy_loss(logp, old, ref, adv, mask, clip_range=0.2, clip_ratio_c=3.0, kl_coef=0.0)
    # ratio 5 with A = -1 loses 5 under PPO's clip, at most 3 under the dual clip; ratio 1 with A = 1 loses -1;
    # ratio ~0 with A = 1 loses -min(0, 0.8) = 0
    assert loss.item() == pytest.approx((3.0 - 1.0 + 0.0) / 3, rel=1e-6)
    plain, _ = policy_loss(logp, old, ref, adv, mask, clip_ratio_c=None, kl_coef=0.0)
    assert plain.item() == pytest.approx((5.0 - 1.0 + 0.0) / 3, rel=1e-6)
    # k3 of a token the policy left (log pi = -30 against log pi_ref = 0) is clamped to 10
    _, stats = policy_loss(logp, old, ref, adv, mask, kl_coef=0.01)
    assert stats["kl"] == pytest.approx((5.0**-1 - math.log(0.2) - 1) + 0.0 + 10.0, rel=1e-5)


def test_zero_advantage_minibatches_take_no_optimiser_step(tiny_path):
    model = make_model(tiny_path, policy_kwargs=dict(use_lora=False), learning_rate=1e-2)
    model.learn(total_timesteps=1)
    before = [p.detach().clone() for p in model.policy.model.parameters()]
    model.rollout_buffer.advantages = np.zeros(len(model.rollout_buffer))
    model.logger.name_to_value.clear()
    model.train()
    assert all(torch.equal(a, b) for a, b in zip(before, model.policy.model.parameters()))
    assert model.last_train_stats["optimizer_steps"] == 0 and model.last_train_stats["skipped_batches"] >= 1
    # nothing was measured: no made-up zeros in the log or the stats
    unmeasured = ("loss", "pg", "kl", "clipped", "grad_norm")
    assert all(math.isnan(model.last_train_stats[k]) for k in unmeasured), model.last_train_stats
    logged = model.logger.name_to_value
    assert not {"train/loss", "train/kl", "train/clip_fraction", "train/grad_norm", "train/entropy"} & set(logged)
    assert logged["train/optimizer_steps"] == 0
    model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(model.rollout_buffer))
    model.train()
    assert model.last_train_stats["optimizer_steps"] >= 1
    assert not all(torch.equal(a, b) for a, b in zip(before, model.policy.model.parameters()))


def test_filter_groups_trains_only_on_groups_with_signal(tiny_path):
    model = make_model(tiny_path, filter_groups=True, batch_size=2, micro_batch_size=2)
    model.learn(total_timesteps=1)
    buffer = model.rollout_buffer
    groups = np.array([r.group_id for r in buffer.records])
    buffer.advantages = np.where(groups == 0, 0.0, 1.0)  # group 0 holds no signal
    seen = []
    real = buffer.minibatches
    buffer.minibatches = lambda *a: (seen.extend(b.rows) or b for b in real(*a))
    model.train()
    assert seen and set(groups[seen]) == {1} and sorted(seen) == list(np.flatnonzero(groups == 1))


def test_prompt_drops_history_before_its_head(tiny_path):
    model = make_model(tiny_path, history_length=2, policy_kwargs=dict(max_prompt_tokens=160))
    history = [("You open the fridge 1. " * 8, "open fridge 1"), ("You see a mug 1. " * 8, "take mug 1")]
    full = model.prompt_builder.render(
        model.policy.tokenizer,
        model.prompt_builder.build("put a mug in shelf.", history, "You arrive at shelf 1.", ["look"]),
    )
    assert len(model.policy.tokenizer(full)["input_ids"]) > 160  # the full prompt does not fit
    fitted = model.prompt("put a mug in shelf.", history, "You arrive at shelf 1.", ["look"])
    assert fitted.startswith("<|im_start|>user\nYou are an agent") and "Your task is to: put a mug in shelf." in fitted
    assert "You arrive at shelf 1." in fitted and "You open the fridge 1." not in fitted  # oldest pair dropped first
    assert len(model.policy.tokenizer(fitted)["input_ids"]) <= 160
    # a prompt still too long keeps its head (the task) and its tail (the admissible actions)
    long_obs = "You see a mug 1. " * 200
    ids = model.policy.encode_prompts([model.prompt("put a mug in shelf.", history, long_obs, ["look"])])[0]
    text = model.policy.tokenizer.decode(ids)
    assert len(ids) == 160 and "Your task is to: put a mug in shelf." in text and "'look'" in text


@pytest.fixture
def one_thread():
    """One torch thread for the test: multi-threaded CPU kernels may sum in another order from run to run (two
    identical runs in one process differed by up to 1e-5 after two lr-1e-2 updates), one thread always the same."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_kl_coef_zero_skips_the_reference_pass_and_trains_the_same(tiny_path, one_thread):
    # kl_coef 0 gives the KL term no gradient: skipping the reference pass must leave the update bit-identical
    weights, calls, keys = [], [], []
    for forced in (True, False):
        model = make_model(tiny_path, policy_kwargs=dict(use_lora=False), learning_rate=1e-2, kl_coef=0.0)
        real = model._fill_reference_logprobs
        model._fill_reference_logprobs = lambda records, with_reference=True, real=real, forced=forced: (
            calls.append((forced, with_reference)) or real(records, with_reference or forced)
        )
        model.learn(total_timesteps=1)
        model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(model.rollout_buffer))
        model.train()
        assert model.last_train_stats["optimizer_steps"] >= 1
        weights.append([p.detach().clone() for p in model.policy.model.parameters()])
        keys.append(set(model.logger.name_to_value))
    assert set(calls) == {(True, False), (False, False)}  # kl_coef 0 asks for no reference pass
    assert all(torch.equal(a, b) for a, b in zip(*weights))  # one thread: the same sums in the same order
    assert "train/approx_kl" in keys[1] and "train/kl" not in keys[1]


@pytest.mark.parametrize("use_lora", [False, True])
def test_bfloat16_weights_train_with_float32_logprobs_and_reload(tiny_path, tmp_path, use_lora):
    model = make_model(tiny_path, policy_kwargs=dict(use_lora=use_lora, dtype="bfloat16"), learning_rate=1e-2)
    base = {p.dtype for n, p in model.policy.model.named_parameters() if "lora_" not in n}
    assert base == {torch.bfloat16}
    assert {p.dtype for p in model.policy.trainable_parameters()} == ({torch.float32} if use_lora else {torch.bfloat16})
    model.learn(total_timesteps=1)
    record = model.rollout_buffer.records[0]
    logp = model.policy.candidate_logprobs([record.prompt_ids], [record.candidate_ids])[0]
    assert logp.dtype == torch.float32 and torch.isfinite(logp).all()
    assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-5)  # a distribution, normalised in float32
    before = [p.detach().clone() for p in model.policy.trainable_parameters()]
    model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(model.rollout_buffer))
    model.train()
    assert math.isfinite(model.last_train_stats["loss"]) and model.last_train_stats["optimizer_steps"] >= 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.trainable_parameters()))
    loaded = GiGPO.load(model.save(tmp_path / "bf16"))
    assert {p.dtype for n, p in loaded.policy.model.named_parameters() if "lora_" not in n} == {torch.bfloat16}
    again = loaded.policy.candidate_logprobs([record.prompt_ids], [record.candidate_ids])[0]
    assert torch.equal(again, model.policy.candidate_logprobs([record.prompt_ids], [record.candidate_ids])[0])


def test_the_rollout_predict_and_the_evaluation_take_one_agent_step(tiny_path, monkeypatch):
    from trainer.evaluation import evaluate

    model = make_model(tiny_path)
    callers = []
    act = model.act

    def spy(goals, histories, observations, admissible, *args, **kwargs):
        callers.append(inspect.stack()[1].function)
        responses, commands, valid = act(goals, histories, observations, admissible, *args, **kwargs)
        assert all(c in a for c, a in zip(commands, admissible, strict=True))  # score mode: admissible commands
        assert all(valid)
        return responses, commands, valid

    monkeypatch.setattr(model, "act", spy)
    obs = {"text": "You arrive at fridge 1.", "goal": "put a mug in shelf.", "admissible_commands": ["look", "open"]}
    assert model.predict(obs, deterministic=True)[0] in obs["admissible_commands"]
    evaluate(model, "ALFWorld-text-v0", [0], env_kwargs=dict(max_episode_steps=2))
    model.learn(total_timesteps=1)
    assert {"predict", "choose", "collect_rollouts"} <= set(callers)
    assert model.round_stats["rollout/steps"] > 0  # the round's statistics, public


def test_the_logged_entropy_is_the_policy_entropy_and_is_never_a_made_up_zero(tiny_path):
    # score mode: the exact entropy of pi(.|s) over the admissible set, averaged over the round's steps (one
    # mini-batch, one epoch: every step is scored by the weights the round was trained from)
    model = make_model(tiny_path, batch_size=64, n_epochs=1)
    model.learn(total_timesteps=1)
    records = model.rollout_buffer.records
    model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(records))
    with torch.no_grad():
        model.policy.set_training_mode(True)
        logps = model.policy.candidate_logprobs([r.prompt_ids for r in records], [r.candidate_ids for r in records])
        expected = float(np.mean([float(-(lp.exp() * lp).sum()) for lp in logps]))
    model.train()
    assert expected > 0.0
    assert model.logger.name_to_value["train/entropy"] == pytest.approx(expected, rel=1e-4)
    assert model.last_train_stats["entropy"] == pytest.approx(expected, rel=1e-4)
    # generate mode computes it (a pass over the vocabulary) only when asked; otherwise it is absent, not 0
    for verbose in (0, 1):
        model = make_model(tiny_path, mode="generate", verbose=verbose)
        model.learn(total_timesteps=1)
        model.rollout_buffer.advantages = np.random.default_rng(0).normal(size=len(model.rollout_buffer))
        model.train()
        assert model.last_train_stats["optimizer_steps"] >= 1
        assert ("entropy" in model.last_train_stats) == ("train/entropy" in model.logger.name_to_value) == bool(verbose)
        if verbose:
            assert model.last_train_stats["entropy"] > 0.0
    # a round whose every mini-batch is skipped (no signal) trains on no token: no entropy is logged
    model.rollout_buffer.advantages = np.zeros(len(model.rollout_buffer))
    model.train()
    assert model.last_train_stats["optimizer_steps"] == 0 and "entropy" not in model.last_train_stats
