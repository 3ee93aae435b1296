"""Advantage estimators: the group-relative GiGPO, GRPO and RLOO, and PPO's GAE over a learned value.

Every function takes *flat* arrays with one row per environment step (one LLM response).
The rows of one trajectory appear in time order; rows of different trajectories may
interleave. A trajectory is identified by the pair ``(group_id, traj_id)``, so trajectory ids
may either be globally unique or restart at 0 in every group (:func:`discounted_returns`, which needs no groups,
takes ``group_ids=`` for ids that restart; without it its ``traj_ids`` alone name trajectories).

Shapes and dtypes
-----------------
- ``rewards``: ``(S,)`` real numbers (any float or int dtype), finite.
- ``group_ids``, ``traj_ids``: ``(S,)`` any hashable dtype (ints, strings, bytes, objects; object keys are
  grouped by equality, an unhashable one is a ValueError naming the argument). Keys given as a list of strings or
  bytes compare exactly: ``"a"`` and ``"a\x00"`` are two keys (a NumPy string array cannot tell them apart).
- ``anchor_keys``: ``(S,)`` any hashable dtype; the key of the environment state the step's
  action was taken from (for GiGPO, a canonical state hash).
- Output: ``(S,)`` ``float64``, one advantage per row, to be broadcast over that row's tokens.

Conventions (GiGPO paper, Feng et al. 2025, arXiv:2505.10978, plus the public reference code):

- episode return ``R(tau)`` = undiscounted sum of the trajectory's step rewards;
  step return ``R_t = sum_k gamma**k r_{t+k}`` (return-to-go inside the trajectory).
- an episode group is every trajectory with the same ``group_id``; its statistics are taken over
  trajectories (``episode_stats="trajectory"``, the paper's formula) or over rows, each row
  carrying its trajectory's return (``"step"``, the reference code's default, which weights long
  trajectories more). A group of a single member uses mean 0 and std 1.
- a step group is every row with the same ``(group_id, anchor_key)``; a step group of one row
  gets step advantage exactly 0 (there is nothing to compare it with).
- std is the unbiased (N - 1) standard deviation; ``norm="mean"`` subtracts the mean only,
  ``norm="std"`` divides the centred value by ``std + eps``.

All statistics are computed in float64, with each group's mean taken relative to one of its
members, so that a group of equal returns gives *exactly* zero advantage (the reference code's
float32 arithmetic turns a zero std into ~1e-7 and amplifies rounding noise instead).

Finite rewards whose returns or statistics overflow float64 raise a ValueError instead of giving NaN (or, where a
std overflows, all-zero) advantages.

Everything is vectorised: no Python loop runs over rows or trajectories (object-dtype keys are hashed row by
row, as Python objects must be). The discounted
return uses a log-depth doubling scan (``ceil(log2(longest trajectory))`` array operations).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import numpy as np

__all__ = [
    "discounted_returns",
    "episode_advantages",
    "episode_returns",
    "gae_advantages",
    "gigpo_advantages",
    "grpo_advantages",
    "permuted_anchor_keys",
    "rloo_advantages",
    "step_advantages",
    "step_group_ids",
    "whiten",
]

Norm = Literal["mean", "std"]
EpisodeStats = Literal["trajectory", "step"]


# --------------------------------------------------------------------------- validation


def _as_rewards(rewards: Any, name: str = "rewards") -> np.ndarray:
    arr = np.asarray(rewards)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (S,), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite: found NaN or infinity")
    return arr


def _as_keys(name: str, keys: Any, n: int) -> np.ndarray:
    arr = np.asarray(keys)
    if arr.dtype.kind in "SU" and not isinstance(keys, np.ndarray) and arr.ndim == 1:
        # NumPy's fixed-width strings drop trailing NULs ("a" == "a\x00" there): keep the Python objects, which
        # compare exactly
        arr = np.empty(len(arr), dtype=object)
        arr[:] = list(keys)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (S,), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but rewards has {n}")
    return arr


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    return gamma


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not (np.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    return eps


# --------------------------------------------------------------------------- grouping


def _factorize(keys: np.ndarray, name: str) -> np.ndarray:
    """Dense int64 codes for any hashable keys (equal keys -> equal codes).

    Object arrays are grouped by equality and hash, never by sorting: Python objects need not be totally
    ordered (sets order by inclusion, so sorting would split equal ones apart).
    """
    if keys.dtype.kind in "iu" and keys.size and keys.min() >= 0 and keys.max() < 4 * keys.size + 1024:
        # small non-negative ints (the buffer's ids and interned anchors): the codes np.unique would give, by a
        # presence table instead of a sort
        present = np.zeros(int(keys.max()) + 1, dtype=np.int64)
        present[keys] = 1
        return (np.cumsum(present) - 1)[keys]
    if keys.dtype.kind != "O":
        return np.unique(keys, return_inverse=True)[1].astype(np.int64, copy=False)
    table: dict[Any, int] = {}
    try:
        return np.fromiter((table.setdefault(k, len(table)) for k in keys), np.int64, len(keys))
    except TypeError:
        pass
    try:  # lists and sets compare by value: key them by their frozen copies
        return np.fromiter((table.setdefault(_frozen(k), len(table)) for k in keys), np.int64, len(keys))
    except TypeError as error:
        bad = next(k for k in keys if not _hashable(_frozen(k)))
        raise ValueError(
            f"{name} must be hashable keys (or lists, tuples, sets of them), got {type(bad).__name__} {bad!r}"
        ) from error


def _frozen(key: Any) -> Any:
    if isinstance(key, list | tuple):
        return tuple(_frozen(k) for k in key)
    if isinstance(key, set):
        return frozenset(_frozen(k) for k in key)
    return key


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _overflow_checked(function):
    """Raise a ValueError naming the rewards when finite inputs give non-finite advantages (float64 overflow)."""

    @functools.wraps(function)
    def checked(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            out = function(*args, **kwargs)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"rewards are too large: {function.__name__} overflows float64 (returns or their statistics are "
                "not finite); rescale the rewards"
            )
        return out

    return checked


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs ``(a[i], b[i])`` for dense int codes ``a`` and ``b``."""
    if a.size == 0:
        return a
    return _factorize(a * (int(b.max()) + 1) + b, "pairs")


def _traj_codes(group_codes: np.ndarray, traj_ids: np.ndarray) -> np.ndarray:
    return _pair_codes(group_codes, _factorize(traj_ids, "traj_ids"))


def _prepare(rewards: Any, group_ids: Any, traj_ids: Any) -> tuple[np.ndarray, ...]:
    """Validated float64 rewards and the dense group and trajectory codes of every row."""
    r = _as_rewards(rewards)
    groups = _factorize(_as_keys("group_ids", group_ids, r.shape[0]), "group_ids")
    trajs = _traj_codes(groups, _as_keys("traj_ids", traj_ids, r.shape[0]))
    return r, groups, trajs


def _traj_group(group_codes: np.ndarray, traj_codes: np.ndarray) -> np.ndarray:
    """Group code of every trajectory code."""
    out = np.zeros(int(traj_codes.max()) + 1, dtype=np.int64)
    out[traj_codes] = group_codes
    return out


def step_group_ids(group_ids: Any, anchor_keys: Any) -> np.ndarray:
    """Dense int64 step-group ids ``(S,)``: equal iff ``(group_id, anchor_key)`` are equal.

    Step groups never mix two episode groups, even when their anchor keys coincide.
    """
    anchors = np.asarray(anchor_keys)
    groups = _as_keys("group_ids", group_ids, anchors.shape[0] if anchors.ndim == 1 else -1)
    anchors = _as_keys("anchor_keys", anchor_keys, groups.shape[0])
    return _pair_codes(_factorize(groups, "group_ids"), _factorize(anchors, "anchor_keys"))


def _centre_and_scale(
    values: np.ndarray,
    codes: np.ndarray,
    norm: str,
    eps: float,
    singleton: str,
    weights: np.ndarray | None = None,
    members: np.ndarray | None = None,
) -> np.ndarray:
    """Normalise ``values`` within the groups given by dense ``codes``.

    ``weights`` (default 1 per row) weigh the rows in the group's mean and variance, and ``members`` (default:
    the rows) is the group's number of members ``N`` in the singleton test and the unbiased ``N - 1``: with
    weights ``1 / len(trajectory)`` and members = trajectories, every trajectory counts once whatever its length.
    ``singleton="identity"`` treats a one-member group with mean 0 and std 1;
    ``singleton="zero"`` gives it 0. The mean is taken relative to the group's first member,
    so that equal values give exactly zero deviation.
    """
    n_groups = int(codes.max()) + 1 if codes.size else 0
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    w = np.ones_like(values) if weights is None else weights
    mass = counts if weights is None else np.bincount(codes, weights=w, minlength=n_groups)
    n = counts if members is None else members.astype(np.float64)
    first = np.zeros(n_groups, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    shifted = values - values[first][codes]
    mean_shift = np.bincount(codes, weights=w * shifted, minlength=n_groups) / mass
    deviation = shifted - mean_shift[codes]
    multi = n > 1
    if singleton == "identity":
        deviation = np.where(multi[codes], deviation, values)
    else:
        deviation = np.where(multi[codes], deviation, 0.0)
    if norm == "mean":
        return deviation
    sq = np.bincount(codes, weights=w * deviation * deviation, minlength=n_groups) * (n / mass)
    std = np.where(multi, np.sqrt(sq / np.maximum(n - 1.0, 1.0)), 1.0)
    denom = std[codes] + eps
    # A group of equal values has deviation exactly 0; keep it 0 even with eps == 0.
    out = np.zeros_like(deviation)
    np.divide(deviation, denom, out=out, where=deviation != 0.0)
    # a std that overflowed (squares of huge finite deviations) would divide every row to 0: NaN instead, which
    # the callers' overflow check turns into its error
    return np.where(np.isfinite(denom), out, np.nan)


# --------------------------------------------------------------------------- returns


@_overflow_checked
def discounted_returns(rewards: Any, traj_ids: Any, gamma: float, group_ids: Any = None) -> np.ndarray:
    """Discounted return-to-go of every row within its trajectory.

    Args:
        rewards: ``(S,)`` step rewards.
        traj_ids: ``(S,)`` trajectory of each row (rows of one trajectory in time order).
        gamma: discount factor in ``[0, 1]``.
        group_ids: ``(S,)`` episode group of each row. Give it when trajectory ids restart in every group: a
            trajectory is then the pair ``(group_id, traj_id)``. Without it ``traj_ids`` alone name trajectories.

    Returns:
        ``(S,)`` float64, ``R_t = sum_k gamma**k * r_{t+k}`` over the rest of the trajectory.
        Rows with equal reward suffixes get bit-identical returns.
    """
    r = _as_rewards(rewards)
    if group_ids is None:
        codes = _factorize(_as_keys("traj_ids", traj_ids, r.shape[0]), "traj_ids")
    else:
        _, _, codes = _prepare(r, group_ids, traj_ids)
    return _discounted_from_codes(r, codes, _check_gamma(gamma))


def _discounted_from_codes(r: np.ndarray, codes: np.ndarray, gamma: float) -> np.ndarray:
    if r.size == 0:
        return r.copy()
    order = np.argsort(codes, kind="stable")  # trajectories contiguous, time order kept
    sorted_codes = codes[order]
    counts = np.bincount(sorted_codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    remaining = starts[sorted_codes] + counts[sorted_codes] - np.arange(r.size)  # rows left, incl.
    y = r[order].copy()
    # Doubling scan: after the pass with shift k, y[t] = sum_{j<2k} gamma^j r[t+j] (inside the
    # trajectory). Each pass reads only offsets, so equal suffixes give bit-identical results.
    shift = 1
    while shift < int(counts.max()):
        ok = remaining[:-shift] > shift
        y[:-shift] = y[:-shift] + np.where(ok, gamma**shift * y[shift:], 0.0)
        shift *= 2
    out = np.empty_like(y)
    out[order] = y
    return out


@_overflow_checked
def episode_returns(rewards: Any, group_ids: Any, traj_ids: Any) -> np.ndarray:
    """Undiscounted episode return ``R(tau)`` of every row's trajectory, shape ``(S,)`` float64."""
    r, _, trajs = _prepare(rewards, group_ids, traj_ids)
    return np.bincount(trajs, weights=r)[trajs] if r.size else r.copy()


# --------------------------------------------------------------------------- advantages


def _episode_from_codes(
    r: np.ndarray, groups: np.ndarray, trajs: np.ndarray, norm: str, stats: str, eps: float, penalties: np.ndarray
) -> np.ndarray:
    """Each row's value, its trajectory's return plus its own penalty, normalised in its episode group."""
    traj_return = np.bincount(trajs, weights=r)
    values = traj_return[trajs] + penalties
    if stats == "step":
        return _centre_and_scale(values, groups, norm, eps, "identity")
    # every trajectory counts once: row weights 1 / length, N = the group's trajectories (without penalties this
    # is exactly the statistics of the trajectory returns)
    lengths = np.bincount(trajs).astype(np.float64)
    n_traj = np.bincount(_traj_group(groups, trajs))
    return _centre_and_scale(values, groups, norm, eps, "identity", weights=1.0 / lengths[trajs], members=n_traj)


def _as_penalties(penalties: Any, n: int) -> np.ndarray:
    if penalties is None:
        return np.zeros(n)
    p = _as_rewards(penalties, "penalties")
    if p.shape[0] != n:
        raise ValueError(f"penalties has {p.shape[0]} rows but rewards has {n}")
    return p


@_overflow_checked
def episode_advantages(
    rewards: Any,
    group_ids: Any,
    traj_ids: Any,
    *,
    norm: Norm = "mean",
    episode_stats: EpisodeStats = "trajectory",
    eps: float = 1e-6,
    penalties: Any = None,
) -> np.ndarray:
    """GiGPO's episode (macro) advantage: the trajectory's return normalised within its group.

    Args:
        rewards: ``(S,)`` step rewards.
        group_ids: ``(S,)`` episode group of each row (trajectories started from one task).
        traj_ids: ``(S,)`` trajectory of each row.
        norm: ``"mean"`` (subtract the group mean) or ``"std"`` (also divide by ``std + eps``).
        episode_stats: ``"trajectory"`` (statistics over the group's trajectories) or ``"step"``
            (over its rows, each carrying its trajectory's return).
        eps: added to the std when ``norm="std"``.
        penalties: ``(S,)`` per-row penalties (default none), added to the row's own value after the returns are
            summed, as the reference applies the invalid-action penalty: row ``i`` is normalised as
            ``R(tau) + penalties[i]`` and no other row of its trajectory changes.

    Returns:
        ``(S,)`` float64; without penalties every row of a trajectory carries the same value.
    """
    _check_choice("norm", norm, ("mean", "std"))
    _check_choice("episode_stats", episode_stats, ("trajectory", "step"))
    eps = _check_eps(eps)
    r, groups, trajs = _prepare(rewards, group_ids, traj_ids)
    p = _as_penalties(penalties, r.shape[0])
    if r.size == 0:
        return r.copy()
    return _episode_from_codes(r, groups, trajs, norm, episode_stats, eps, p)


@_overflow_checked
def step_advantages(
    rewards: Any,
    group_ids: Any,
    traj_ids: Any,
    anchor_keys: Any,
    *,
    gamma: float = 0.95,
    norm: Norm = "mean",
    eps: float = 1e-6,
    penalties: Any = None,
) -> np.ndarray:
    """GiGPO's step (micro) advantage: discounted return-to-go normalised within its anchor group.

    Args:
        rewards: ``(S,)`` step rewards.
        group_ids: ``(S,)`` episode group of each row.
        traj_ids: ``(S,)`` trajectory of each row.
        anchor_keys: ``(S,)`` key of the state each action was taken from (state hash).
        gamma: discount of the return-to-go, in ``[0, 1]`` (paper: 0.95).
        norm: ``"mean"`` or ``"std"``.
        eps: added to the std when ``norm="std"``.
        penalties: ``(S,)`` per-row penalties added to the row's return-to-go after discounting (they reach no
            earlier step), as the reference applies the invalid-action penalty.

    Returns:
        ``(S,)`` float64; 0 for every row whose step group holds only itself.
    """
    gamma = _check_gamma(gamma)
    _check_choice("norm", norm, ("mean", "std"))
    eps = _check_eps(eps)
    r, groups, trajs = _prepare(rewards, group_ids, traj_ids)
    anchors = _factorize(_as_keys("anchor_keys", anchor_keys, r.shape[0]), "anchor_keys")
    p = _as_penalties(penalties, r.shape[0])
    if r.size == 0:
        return r.copy()
    return _step_from_codes(r, groups, trajs, anchors, gamma, norm, eps, p)


def _step_from_codes(
    r: np.ndarray,
    groups: np.ndarray,
    trajs: np.ndarray,
    anchors: np.ndarray,
    gamma: float,
    norm: str,
    eps: float,
    penalties: np.ndarray,
) -> np.ndarray:
    returns = _discounted_from_codes(r, trajs, gamma) + penalties
    return _centre_and_scale(returns, _pair_codes(groups, anchors), norm, eps, "zero")


@_overflow_checked
def gigpo_advantages(
    rewards: Any,
    group_ids: Any,
    traj_ids: Any,
    anchor_keys: Any,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    norm: Norm = "mean",
    episode_stats: EpisodeStats = "trajectory",
    eps: float = 1e-6,
    penalties: Any = None,
) -> np.ndarray:
    """GiGPO advantage ``A = A_episode + omega * A_step`` (paper eq. 7), shape ``(S,)`` float64.

    Args:
        rewards, group_ids, traj_ids, anchor_keys: as in :func:`step_advantages`.
        gamma: discount of the step return (paper: 0.95).
        omega: weight of the step advantage (paper: 1.0).
        norm: ``"mean"`` or ``"std"``, used for both levels.
        episode_stats: see :func:`episode_advantages`.
        eps: added to the std when ``norm="std"``.
        penalties: per-row penalties applied at both levels after the returns (see :func:`episode_advantages`
            and :func:`step_advantages`).
    """
    omega = float(omega)
    if not np.isfinite(omega):
        raise ValueError(f"omega must be finite, got {omega}")
    gamma = _check_gamma(gamma)
    _check_choice("norm", norm, ("mean", "std"))
    _check_choice("episode_stats", episode_stats, ("trajectory", "step"))
    eps = _check_eps(eps)
    r, groups, trajs = _prepare(rewards, group_ids, traj_ids)
    anchors = _factorize(_as_keys("anchor_keys", anchor_keys, r.shape[0]), "anchor_keys")
    p = _as_penalties(penalties, r.shape[0])
    if r.size == 0:
        return r.copy()
    episode = _episode_from_codes(r, groups, trajs, norm, episode_stats, eps, p)
    return episode + omega * _step_from_codes(r, groups, trajs, anchors, gamma, norm, eps, p)


@_overflow_checked
def grpo_advantages(
    rewards: Any,
    group_ids: Any,
    traj_ids: Any,
    *,
    norm: Norm = "std",
    episode_stats: EpisodeStats = "trajectory",
    eps: float = 1e-6,
    penalties: Any = None,
) -> np.ndarray:
    """GRPO advantage (Shao et al. 2024): the episode advantage, std-normalised by default."""
    return episode_advantages(
        rewards, group_ids, traj_ids, norm=norm, episode_stats=episode_stats, eps=eps, penalties=penalties
    )


@_overflow_checked
def rloo_advantages(
    rewards: Any, group_ids: Any, traj_ids: Any, *, episode_stats: EpisodeStats = "trajectory", penalties: Any = None
) -> np.ndarray:
    """RLOO advantage (Ahmadian et al. 2024): return minus the mean return of the *other* members.

    ``A_i = R_i - (sum_{j != i} R_j) / (N - 1)`` over the N trajectories of a group (``episode_stats="step"``:
    over its N rows, as the reference); a group of a single member has no baseline and keeps ``A = R``.
    ``penalties`` as in :func:`episode_advantages`. Shape ``(S,)`` float64.
    """
    _check_choice("episode_stats", episode_stats, ("trajectory", "step"))
    r, groups, trajs = _prepare(rewards, group_ids, traj_ids)
    p = _as_penalties(penalties, r.shape[0])
    if r.size == 0:
        return r.copy()
    # Leave-one-out equals N/(N-1) times the mean-centred return.
    centred = _episode_from_codes(r, groups, trajs, "mean", episode_stats, 0.0, p)
    if episode_stats == "step":
        n_traj = np.bincount(groups)[groups].astype(np.float64)
    else:
        n_traj = np.bincount(_traj_group(groups, trajs))[groups].astype(np.float64)
    scale = np.where(n_traj > 1, n_traj / np.maximum(n_traj - 1.0, 1.0), 1.0)
    return centred * scale


# --------------------------------------------------------------------------- PPO: a learned value baseline


@_overflow_checked
def _gae_checked(*args: Any, **kwargs: Any) -> np.ndarray:
    return np.concatenate(_gae(*args, **kwargs))


def gae_advantages(
    rewards: Any,
    traj_ids: Any,
    values: Any,
    truncated: Any,
    bootstrap_values: Any,
    *,
    gamma: float = 0.95,
    gae_lambda: float = 0.95,
    group_ids: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (Schulman et al. 2016) over the env steps of each trajectory.

    Args:
        rewards: ``(S,)`` step rewards (the invalid-action penalties included).
        traj_ids: ``(S,)`` trajectory of each row (rows of one trajectory in time order, each trajectory complete:
            its last row is where it ended).
        values: ``(S,)`` the critic's ``V(s_t)`` of each row's state.
        truncated: ``(S,)`` bool, true on the last row of a trajectory cut by the step limit: its successor
            state is not terminal, so the return is bootstrapped from ``bootstrap_values`` there. A terminated
            trajectory's successor is worth 0 (the episode is over, nothing is bootstrapped).
        bootstrap_values: ``(S,)`` ``V(s_{t+1})`` of the state after a truncated last row; read only there.
        gamma: discount (paper: 0.95).
        gae_lambda: GAE's lambda in ``[0, 1]``: 1 gives the Monte-Carlo return minus ``V(s_t)``, 0 the one-step
            TD error.
        group_ids: ``(S,)`` episode groups when trajectory ids restart in every group (as in
            :func:`discounted_returns`).

    Returns:
        ``(advantages, returns)``, both ``(S,)`` float64: ``A_t = sum_k (gamma lambda)^k delta_{t+k}`` with
        ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)``, and the critic's target ``returns = A + values``.
    """
    r = _as_rewards(rewards)
    v = _as_rewards(values, "values")
    boot = _as_rewards(bootstrap_values, "bootstrap_values")
    for name, arr in (("values", v), ("bootstrap_values", boot)):
        if arr.shape[0] != r.shape[0]:
            raise ValueError(f"{name} has {arr.shape[0]} rows but rewards has {r.shape[0]}")
    cut = _as_keys("truncated", truncated, r.shape[0])
    if cut.dtype != np.bool_:
        raise ValueError(f"truncated must be a bool array, got dtype {cut.dtype}")
    lam = float(gae_lambda)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"gae_lambda must lie in [0, 1], got {gae_lambda}")
    if group_ids is None:
        codes = _factorize(_as_keys("traj_ids", traj_ids, r.shape[0]), "traj_ids")
    else:
        _, _, codes = _prepare(r, group_ids, traj_ids)
    out = _gae_checked(r, codes, v, cut, boot, _check_gamma(gamma), lam)
    return out[: r.size], out[r.size :]


def _gae(r, codes, v, cut, boot, gamma, lam) -> tuple[np.ndarray, np.ndarray]:
    if r.size == 0:
        return r.copy(), r.copy()
    order = np.argsort(codes, kind="stable")  # trajectories contiguous, time order kept
    sorted_codes = codes[order]
    last = np.append(sorted_codes[1:] != sorted_codes[:-1], True)  # the last row of each trajectory
    next_value = np.empty_like(r)
    next_value[order[:-1]] = v[order[1:]]
    ends = order[last]
    next_value[ends] = np.where(cut[ends], boot[ends], 0.0)
    delta = r + gamma * next_value - v
    advantages = _discounted_from_codes(delta, codes, gamma * lam)
    return advantages, advantages + v


def whiten(advantages: Any, weights: Any = None, eps: float = 1e-8) -> np.ndarray:
    """Advantages shifted to mean 0 and scaled to variance 1 over the batch, as PPO's reference code does.

    ``weights`` (default 1 per row): each row's number of loss tokens, so the statistics are those of the
    token-level advantages (a row's advantage is broadcast over its tokens). The variance is the unbiased one of
    the tokens; ``(S,)`` float64. A batch of equal advantages gives exactly zero.
    """
    a = _as_rewards(advantages, "advantages")
    w = np.ones_like(a) if weights is None else _as_rewards(weights, "weights")
    if w.shape != a.shape:
        raise ValueError(f"weights has shape {w.shape} but advantages has {a.shape}")
    if a.size == 0:
        return a.copy()
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    shifted = a - a[0]  # relative to one member: equal values give exactly zero deviation
    deviation = shifted - np.sum(w * shifted) / w.sum()
    total = w.sum()
    with np.errstate(over="ignore", invalid="ignore"):
        var = np.sum(w * deviation**2) / max(total - 1.0, 1.0)
    if not (np.all(np.isfinite(deviation)) and np.isfinite(var)):  # else every row would be divided to 0
        raise ValueError("advantages are too large: whiten overflows float64 (their variance is not finite)")
    out = np.zeros_like(deviation)
    np.divide(deviation, np.sqrt(var + eps), out=out, where=deviation != 0.0)
    return out


def permuted_anchor_keys(group_ids: Any, anchor_keys: Any, rng: np.random.Generator) -> np.ndarray:
    """The anchor keys of a credit control: each episode group's keys dealt out to its rows in a random order.

    GiGPO on these keys (the ``gigpo-permuted`` estimator) keeps every episode group's step groups, their number and
    their sizes, and so the step term's scale and how often it is non-zero, but puts rows of *unrelated* states in
    one step group. If GiGPO's gain over GRPO also appears with these keys, it comes from a larger or noisier update,
    not from comparing actions taken in the same state.

    Args:
        group_ids: ``(S,)`` episode group of each row.
        anchor_keys: ``(S,)`` key of the state each action was taken from.
        rng: the permutation's random stream (uniform over the permutations within each group).

    Returns:
        ``(S,)`` int64 codes of the keys (equal codes: equal keys), permuted within each episode group: the
        multiset of keys of every group is unchanged.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    groups = np.asarray(group_ids)
    if groups.ndim != 1:
        raise ValueError(f"group_ids must be a 1-D array of shape (S,), got shape {groups.shape}")
    anchors = _factorize(_as_keys("anchor_keys", anchor_keys, groups.shape[0]), "anchor_keys")
    groups = _factorize(groups, "group_ids")
    by_group = np.argsort(groups, kind="stable")  # the rows of each group, group after group
    ties = np.asarray(rng.random(groups.shape[0]), dtype=np.float64)
    shuffled = np.lexsort((ties, groups))  # the same groups' rows, each in a random order
    out = np.empty_like(anchors)
    out[by_group] = anchors[shuffled]
    return out
