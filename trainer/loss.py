"""The policy loss: PPO-clip (with dual clip) plus a k3 KL penalty to the reference, as a token mean; and PPO's
clipped value loss.

In ``generate`` mode a "token" is a response token; in ``score`` mode each step is one token whose log-prob is
``log pi(a|s)`` over the admissible set, so the same loss is the sequence-level PPO of that policy. The value loss
has one term per env step (the critic values the state a step acts from).
"""

from __future__ import annotations

import torch

__all__ = ["policy_loss", "value_loss"]


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float = 0.2,
    clip_ratio_c: float | None = 3.0,
    kl_coef: float = 0.01,
    ent_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    n_tokens: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-mean loss over the response tokens of a batch.

    Args:
        logprobs, old_logprobs, ref_logprobs: ``(B, T)`` log-probs of the response tokens under the
            current, the rollout and the reference policy (padding anywhere, zeroed by ``mask``).
        advantages: ``(B,)`` one advantage per response (step), broadcast over its tokens.
        mask: ``(B, T)`` 1.0 on response tokens, 0.0 on padding.
        clip_range: PPO's epsilon (paper: 0.2).
        clip_ratio_c: dual clip (Ye et al. 2020, the reference's ``clip_ratio_c``): a token with a negative
            advantage loses at most ``clip_ratio_c * |A|``, however far its ratio has grown; ``None`` disables it.
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
    pg = torch.maximum(-ratio * adv, -torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * adv)
    if clip_ratio_c is not None:
        pg = torch.where(adv < 0, torch.minimum(pg, -clip_ratio_c * adv), pg)
    # k3 estimator of KL(pi || pi_ref): exp(r) - r - 1 with r = log pi_ref - log pi; >= 0, unbiased. Clamped as
    # the reference does (r to [-20, 20], the estimate to 10), so one token the policy has left cannot explode.
    log_ratio_ref = torch.clamp(ref_logprobs - logprobs, -20.0, 20.0)
    kl = torch.clamp(torch.exp(log_ratio_ref) - log_ratio_ref - 1.0, max=10.0)
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


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip_range_vf: float | None = 0.5
) -> torch.Tensor:
    """``(B,)`` PPO's per-step value loss ``0.5 * max((V - R)^2, (V_clip - R)^2)``.

    Args:
        values: ``(B,)`` the critic's current predictions ``V(s_t)``.
        old_values: ``(B,)`` its predictions when the round was rolled out.
        returns: ``(B,)`` the targets (GAE advantages plus the rollout's values).
        clip_range_vf: ``V_clip = old + clamp(V - old, -c, c)``: the pessimistic maximum removes the incentive to
            move the prediction more than ``c`` from the rollout's in one round (verl's ``cliprange_value``);
            ``None``: the plain ``0.5 * (V - R)^2``.
    """
    values = values.float()
    old_values, returns = old_values.to(values.device).float(), returns.to(values.device).float()
    error = (values - returns) ** 2
    if clip_range_vf is None:
        return 0.5 * error
    clipped = old_values + torch.clamp(values - old_values, -clip_range_vf, clip_range_vf)
    return 0.5 * torch.maximum(error, (clipped - returns) ** 2)
