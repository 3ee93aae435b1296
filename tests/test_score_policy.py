"""Score mode is an exact policy over the admissible set; generate mode samples the distribution it trains."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from trainer.gigpo import GiGPO
from trainer.loss import policy_loss
from trainer.policy import LLMPolicy
from wrappers.group_env import GroupVecEnv

COMMANDS = ["look", "go to shelf 1", "take mug 1 from shelf 1", "open fridge 1"]


def _policy(tiny_path, **kwargs) -> LLMPolicy:
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=1, group_size=2)
    torch.manual_seed(0)
    return LLMPolicy(env.observation_space, env.action_space, model_name_or_path=tiny_path, **kwargs)


def _randomise_lora(policy: LLMPolicy) -> None:
    # B = 0 at initialisation makes the adapter the identity and leaves A without a gradient
    randomised = [p.data.normal_(std=0.5) for name, p in policy.model.named_parameters() if "lora_B" in name]
    assert randomised, "the policy has no LoRA adapter to randomise"


def test_first_epoch_ratio_is_one(tiny_path):
    """The update's log pi(a|s) of every rollout step equals the one it was sampled with."""
    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=2,
        group_size=2,
        batch_size=8,
        micro_batch_size=3,
        env_kwargs=dict(max_episode_steps=4),
        seed=0,
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
    )
    _, callback = model._setup_learn(1)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, 1)
    records = model.rollout_buffer.records
    model.policy.set_training_mode(True)
    with torch.no_grad():
        logp, mask, _ = model._logprobs(records)
    old = np.array([r.old_logprobs[0] for r in records])
    assert logp.shape == (len(records), 1) and torch.all(mask == 1)
    np.testing.assert_allclose(np.exp(logp[:, 0].numpy() - old), 1.0, atol=1e-5)
    assert all(r.candidate_ids[r.choice] == r.response_ids for r in records)


@pytest.mark.parametrize("use_lora", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradient_is_the_log_softmax_policy_gradient(tiny_path, reduction, use_lora):
    """Through the shared KV cache, the PPO loss's gradient at ratio 1 is -A * grad log pi(a|s), computed by hand."""
    policy = _policy(tiny_path, score_reduction=reduction, temperature=0.7, use_lora=use_lora)
    if use_lora:  # the gradient of the adapter's weights (with B = 0, A's would be 0)
        _randomise_lora(policy)
    policy.set_training_mode(True)
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
    candidates = [policy.encode_candidates(COMMANDS), policy.encode_candidates(COMMANDS[:3])]
    choices, advantages = [2, 0], torch.tensor([1.5, -0.5])
    params = policy.trainable_parameters()

    logps = policy.candidate_logprobs(prompts, candidates)
    chosen = torch.stack([lp[c] for lp, c in zip(logps, choices, strict=True)])[:, None]
    loss, _ = policy_loss(chosen, chosen.detach(), chosen.detach(), advantages, torch.ones_like(chosen), kl_coef=0.0)
    got = torch.autograd.grad(loss, params)

    # by hand: every (prompt, candidate) pair as one plain sequence, no cache; pi = softmax(score / T)
    objective = 0.0
    for b, (p, cands) in enumerate(zip(prompts, candidates, strict=True)):
        token_logp, mask, _ = policy._forward_logprobs([p] * len(cands), cands, False, False, temperature=1.0)
        scores = (token_logp * mask).sum(-1)
        if reduction == "mean":
            scores = scores / mask.sum(-1)
        log_pi = torch.log_softmax(scores / 0.7, 0)
        objective = objective - advantages[b] * log_pi[choices[b]]
    expected = torch.autograd.grad(objective / 2, params)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-3, atol=1e-5)
    assert any(float(e.abs().sum()) > 0 for e in expected)


def test_sampled_actions_follow_pi(tiny_path):
    """Chi-square: 3,000 score-mode draws from one state match pi(a|s) (made far from uniform by a low temperature)."""
    policy = _policy(tiny_path, temperature=0.02)
    prompt = "<|im_start|>user\nput a mug in shelf 1<|im_end|>\n<|im_start|>assistant\n"
    prompt_ids = [policy.encode_prompts([prompt])[0] + policy.action_prefix_ids]
    with torch.no_grad():
        pi = policy.candidate_logprobs(prompt_ids, [policy.encode_candidates(COMMANDS)])[0].exp().numpy()
    assert pi.max() / pi.min() > 3  # the test could tell a uniform sampler from pi
    n = 3000
    generator = torch.Generator().manual_seed(1)
    draws = policy.act([prompt] * n, [COMMANDS] * n, generator=generator)
    counts = np.bincount([COMMANDS.index(r.text[len("<action>") : -len("</action>")]) for r in draws], minlength=4)
    chi2 = float(((counts - n * pi) ** 2 / (n * pi)).sum())
    assert chi2 < 16.27, (counts, n * pi)  # the 0.1% critical value of chi-square with 3 degrees of freedom
    picked = [COMMANDS.index(r.text[len("<action>") : -len("</action>")]) for r in draws[:4]]
    np.testing.assert_allclose([r.logprobs[0] for r in draws[:4]], np.log(pi[picked]), rtol=1e-4)


class Bandit(gym.Env):
    """One state, four arms; ``take mug 1 from shelf 1`` pays 1, the others 0; one step."""

    observation_space = gym.spaces.Text(256)
    action_space = gym.spaces.Text(256)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "You face four arms.", {"admissible_commands": list(COMMANDS), "goal": "pull the paying arm"}

    def step(self, action):
        won = action == COMMANDS[2]
        return "Done.", float(won), True, False, {"admissible_commands": list(COMMANDS), "won": won}


def test_a_bandit_is_solved_in_a_few_updates(tiny_path):
    model = GiGPO(
        "LLMPolicy",
        Bandit,
        n_groups=2,
        group_size=8,
        estimator="grpo",
        batch_size=16,
        micro_batch_size=16,
        learning_rate=3e-2,
        seed=0,
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
    )

    def p_paying() -> float:
        prompt = model.prompt("pull the paying arm", [], "You face four arms.", COMMANDS)
        ids = [model.policy.encode_prompts([prompt])[0] + model.policy.action_prefix_ids]
        with torch.no_grad():
            return float(model.policy.candidate_logprobs(ids, [model.policy.encode_candidates(COMMANDS)])[0][2].exp())

    start = p_paying()
    assert 0.1 < start < 0.5  # an untrained model explores
    for _ in range(6):
        model.learn(total_timesteps=1)
    assert p_paying() > 0.9, (start, p_paying())


def test_generation_ignores_the_checkpoints_sampling_settings(tiny_path, tmp_path):
    """First-token frequencies follow exp(logp) although the checkpoint asks for a strong repetition penalty."""
    import shutil

    from transformers import GenerationConfig

    path = tmp_path / "tiny-penalised"
    shutil.copytree(tiny_path, path)
    GenerationConfig(repetition_penalty=50.0, top_k=3, do_sample=True).save_pretrained(path)
    policy = _policy(str(path), action_mode="generate", max_new_tokens=1, temperature=0.3)
    # a prompt holding a good share of the vocabulary, so that repeating one of its tokens is a common event
    prompt = policy.tokenizer.decode(list(range(50, len(policy.tokenizer) // 3)))
    ids = policy.encode_prompts([prompt])[0]
    with torch.no_grad():
        logits = policy.model(input_ids=torch.tensor([ids])).logits[0, -1]
    p = torch.softmax(logits / 0.3, -1)
    seen = torch.zeros_like(p, dtype=torch.bool)
    seen[torch.tensor(ids)] = True
    mass = float(p[seen].sum())  # the probability of repeating a prompt token
    penalised = logits.clone()
    penalised[seen] = torch.where(logits[seen] > 0, logits[seen] / 50.0, logits[seen] * 50.0)
    mass_penalised = float(torch.softmax(penalised / 0.3, -1)[seen].sum())
    n = 1500
    sd = math.sqrt(mass * (1 - mass) / n)
    assert abs(mass - mass_penalised) > 8 * sd  # the penalty, if applied, would be seen
    torch.manual_seed(1)
    draws = [r for _ in range(n // 100) for r in policy.act([prompt] * 100, [[]] * 100)]
    repeated = np.mean([seen[r.response_ids[0]].item() for r in draws])
    assert abs(repeated - mass) < 4 * sd, (repeated, mass, mass_penalised)
    np.testing.assert_allclose(draws[0].logprobs[0], float(torch.log(p[draws[0].response_ids[0]])), rtol=1e-4)
