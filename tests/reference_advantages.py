"""Slow, obviously-correct loop implementations of the advantage formulas (test oracle)."""

from __future__ import annotations

import math
from collections import defaultdict


def _mean_std(values):
    n = len(values)
    if n == 1:
        return 0.0, 1.0
    # Mean relative to the first value, so that equal values have mean equal to each of them.
    mean = values[0] + sum(v - values[0] for v in values) / n
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _normalise(x, mean, std, norm, eps):
    return x - mean if norm == "mean" else (x - mean) / (std + eps)


def ref_returns(rewards, trajs, gamma):
    rows = defaultdict(list)
    for i, t in enumerate(trajs):
        rows[t].append(i)
    out = [0.0] * len(rewards)
    for idx in rows.values():
        running = 0.0
        for i in reversed(idx):
            running = rewards[i] + gamma * running
            out[i] = running
    return out


def ref_episode(rewards, groups, trajs, norm, stats, eps):
    key = list(zip(groups, trajs))
    total = defaultdict(float)
    for k, r in zip(key, rewards):
        total[k] += r
    members = defaultdict(list)
    if stats == "trajectory":
        for k in dict.fromkeys(key):
            members[k[0]].append(total[k])
    else:
        for k in key:
            members[k[0]].append(total[k])
    stat = {g: _mean_std(v) for g, v in members.items()}
    return [_normalise(total[k], *stat[k[0]], norm, eps) for k in key]


def ref_step(rewards, groups, trajs, anchors, gamma, norm, eps):
    returns = ref_returns(rewards, list(zip(groups, trajs)), gamma)
    members = defaultdict(list)
    for i, (g, a) in enumerate(zip(groups, anchors)):
        members[(g, a)].append(returns[i])
    out = []
    for i, (g, a) in enumerate(zip(groups, anchors)):
        vals = members[(g, a)]
        if len(vals) == 1:
            out.append(0.0)
            continue
        mean, std = _mean_std(vals)
        out.append(_normalise(returns[i], mean, std, norm, eps))
    return out


def ref_rloo(rewards, groups, trajs):
    key = list(zip(groups, trajs))
    total = defaultdict(float)
    for k, r in zip(key, rewards):
        total[k] += r
    per_group = defaultdict(list)
    for k in dict.fromkeys(key):
        per_group[k[0]].append(total[k])
    out = []
    for k in key:
        others = list(per_group[k[0]])
        others.remove(total[k])
        out.append(total[k] - (sum(others) / len(others) if others else 0.0))
    return out


def ref_gigpo(rewards, groups, trajs, anchors, gamma=0.95, omega=1.0, norm="mean", stats="trajectory", eps=1e-6):
    episode = ref_episode(rewards, groups, trajs, norm, stats, eps)
    step = ref_step(rewards, groups, trajs, anchors, gamma, norm, eps)
    return [e + omega * s for e, s in zip(episode, step)]


def ref_gae(rewards, trajs, values, truncated, bootstrap, gamma, lam):
    """GAE by the textbook backward recursion, one trajectory at a time."""
    rows = defaultdict(list)
    for i, t in enumerate(trajs):
        rows[t].append(i)
    adv = [0.0] * len(rewards)
    for idx in rows.values():
        last = idx[-1]
        next_value = bootstrap[last] if truncated[last] else 0.0
        running = 0.0
        for i in reversed(idx):
            running = rewards[i] + gamma * next_value - values[i] + gamma * lam * running
            adv[i], next_value = running, values[i]
    return adv
