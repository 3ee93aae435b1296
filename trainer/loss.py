"""The GiGPO/GRPO policy loss: PPO-clip at token level plus a k3 KL penalty to the reference."""

from __future__ import annotations

import torch

__all__ = ["policy_loss"]


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float = 0.2,
    kl_coef: float = 0.01,
    ent_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    n_tokens: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-mean loss over the response tokens of a batch.

    Args:
        logprobs, old_logprobs, ref_logprobs: ``(B, T)`` log-probs of the response tokens under the
            current, the rollout and the reference policy (padding anywhere, zeroed by ``mask``).
        advantages: ``(B,)`` one advantage per response (step), broadcast over its tokens.
        mask: ``(B, T)`` 1.0 on response tokens, 0.0 on padding.
        clip_range: PPO's epsilon (paper: 0.2).
        kl_coef: weight of the KL penalty (paper: 0.01).
        ent_coef: weight of the entropy bonus (needs ``entropy``).
        entropy: ``(B, T)`` per-token entropy of the current policy.
        n_tokens: the denominator of the token mean; the number of response tokens of the whole
            mini-batch when it is split into micro-batches (default: ``mask.sum()``).

    Returns:
        ``(loss, stats)`` with ``stats`` holding the summed (not averaged) ``pg``, ``kl``,
        ``clipped`` and ``entropy`` over tokens, for logging.
    """
    denom = float(mask.sum()) if n_tokens is None else float(n_tokens)
    if denom <= 0:
        raise ValueError("the batch holds no response token")
    adv = advantages.to(logprobs.dtype).unsqueeze(-1)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * adv
    pg = -torch.minimum(unclipped, clipped)
    # k3 estimator of KL(pi || pi_ref): exp(r) - r - 1 with r = log pi_ref - log pi; >= 0, unbiased.
    log_ratio_ref = ref_logprobs - logprobs
    kl = torch.exp(log_ratio_ref) - log_ratio_ref - 1.0
    per_token = pg + kl_coef * kl
    if ent_coef and entropy is not None:
        per_token = per_token - ent_coef * entropy
    loss = (per_token * mask).sum() / denom
    with torch.no_grad():
        stats = {
            "pg": float((pg * mask).sum()),
            "kl": float((kl * mask).sum()),
            "clipped": float((((ratio - 1.0).abs() > clip_range).float() * mask).sum()),
            "entropy": float((entropy * mask).sum()) if entropy is not None else 0.0,
        }
    return loss, stats
