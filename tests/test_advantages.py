"""Property tests of trainer.advantages against a slow loop implementation of the paper's formulas."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainer.advantages import (
    discounted_returns,
    episode_advantages,
    episode_returns,
    gae_advantages,
    gigpo_advantages,
    grpo_advantages,
    permuted_anchor_keys,
    rloo_advantages,
    step_advantages,
    step_group_ids,
    whiten,
)

from .reference_advantages import ref_episode, ref_gae, ref_returns, ref_rloo, ref_step

# --------------------------------------------------------------------------- strategies

rewards_st = st.floats(-5, 5, allow_nan=False, width=32)


@st.composite
def batches(draw, max_groups=4, max_traj=4, max_len=6, n_anchors=4):
    """A batch of groups of trajectories, rows interleaved in a random (time-order-keeping) way."""
    rows = []
    for g in range(draw(st.integers(1, max_groups))):
        for t in range(draw(st.integers(1, max_traj))):
            length = draw(st.integers(1, max_len))
            for step in range(length):
                rows.append(
                    (
                        g,
                        t,
                        step,
                        draw(st.sampled_from([0.0, 1.0, -0.1]) | rewards_st),
                        draw(st.integers(0, n_anchors - 1)),
                    )
                )
    # Interleave trajectories while keeping each one in time order: sort by a random key per
    # row that is increasing inside each trajectory.
    keys = draw(st.lists(st.floats(0, 1), min_size=len(rows), max_size=len(rows)))
    order = sorted(range(len(rows)), key=lambda i: (keys[i] + rows[i][2], i))
    rows = [rows[i] for i in order]
    groups = np.array([r[0] for r in rows])
    trajs = np.array([r[1] for r in rows])
    rewards = np.array([r[3] for r in rows], dtype=np.float64)
    anchors = np.array([f"s{r[4]}" for r in rows])
    return rewards, groups, trajs, anchors


NORMS = st.sampled_from(["mean", "std"])
STATS = st.sampled_from(["trajectory", "step"])


def _group_means_zero(adv, keys):
    for k in np.unique(keys):
        sel = keys == k
        if sel.sum() > 1:
            assert abs(adv[sel].mean()) < 1e-9


# --------------------------------------------------------------------------- equality with loops


@given(batches(), st.floats(0, 1))
def test_discounted_returns_match_loop(batch, gamma):
    rewards, groups, trajs, _ = batch
    keys = np.array([f"{g}/{t}" for g, t in zip(groups, trajs)])
    got = discounted_returns(rewards, keys, gamma)
    np.testing.assert_allclose(got, ref_returns(rewards, keys, gamma), rtol=1e-12, atol=1e-12)
    assert got.dtype == np.float64


@given(batches(), NORMS, STATS)
def test_episode_advantages_match_loop(batch, norm, stats):
    rewards, groups, trajs, _ = batch
    got = episode_advantages(rewards, groups, trajs, norm=norm, episode_stats=stats)
    want = ref_episode(rewards, groups, trajs, norm, stats, 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@given(batches(), NORMS, st.floats(0, 1))
def test_step_advantages_match_loop(batch, norm, gamma):
    rewards, groups, trajs, anchors = batch
    got = step_advantages(rewards, groups, trajs, anchors, gamma=gamma, norm=norm)
    want = ref_step(rewards, groups, trajs, anchors, gamma, norm, 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@given(batches(), NORMS, STATS, st.floats(0, 2))
def test_gigpo_is_episode_plus_omega_step(batch, norm, stats, omega):
    rewards, groups, trajs, anchors = batch
    got = gigpo_advantages(rewards, groups, trajs, anchors, omega=omega, norm=norm, episode_stats=stats)
    ep = ref_episode(rewards, groups, trajs, norm, stats, 1e-6)
    stp = ref_step(rewards, groups, trajs, anchors, 0.95, norm, 1e-6)
    np.testing.assert_allclose(got, np.add(ep, omega * np.asarray(stp)), rtol=1e-9, atol=1e-9)


@given(batches())
def test_rloo_matches_loop(batch):
    rewards, groups, trajs, _ = batch
    got = rloo_advantages(rewards, groups, trajs)
    np.testing.assert_allclose(got, ref_rloo(rewards, groups, trajs), rtol=1e-9, atol=1e-9)


@given(batches(), STATS)
def test_grpo_is_std_normalised_episode_advantage(batch, stats):
    rewards, groups, trajs, _ = batch
    np.testing.assert_array_equal(
        grpo_advantages(rewards, groups, trajs, episode_stats=stats),
        episode_advantages(rewards, groups, trajs, norm="std", episode_stats=stats),
    )


# --------------------------------------------------------------------------- properties


@given(batches(), st.floats(0, 1))
def test_group_means_are_zero(batch, gamma):
    rewards, groups, trajs, anchors = batch
    ep = episode_advantages(rewards, groups, trajs, episode_stats="step")
    _group_means_zero(ep, groups)
    stp = step_advantages(rewards, groups, trajs, anchors, gamma=gamma)
    _group_means_zero(stp, step_group_ids(groups, anchors))
    # With trajectory statistics, the mean over the group's trajectories is zero.
    ep_t = episode_advantages(rewards, groups, trajs)
    firsts = np.unique(np.stack([groups, trajs]), axis=1, return_index=True)[1]
    _group_means_zero(ep_t[firsts], groups[firsts])


@given(batches(), st.randoms(use_true_random=False), NORMS, STATS)
def test_permuting_rows_permutes_result(batch, rnd, norm, stats):
    rewards, groups, trajs, anchors = batch
    base = gigpo_advantages(rewards, groups, trajs, anchors, norm=norm, episode_stats=stats)
    # Any permutation that keeps each trajectory's rows in time order is a valid input.
    keys = np.array([rnd.random() for _ in rewards])
    step_idx = np.zeros(len(rewards))
    seen = defaultdict(int)
    for i, k in enumerate(zip(groups, trajs)):
        step_idx[i] = seen[k]
        seen[k] += 1
    perm = np.lexsort((keys, step_idx))
    got = gigpo_advantages(rewards[perm], groups[perm], trajs[perm], anchors[perm], norm=norm, episode_stats=stats)
    np.testing.assert_allclose(got, base[perm], rtol=1e-12, atol=1e-12)


@given(batches(), NORMS, STATS)
def test_relabelling_ids_does_not_change_result(batch, norm, stats):
    rewards, groups, trajs, anchors = batch
    base = gigpo_advantages(rewards, groups, trajs, anchors, norm=norm, episode_stats=stats)
    relabelled = gigpo_advantages(
        rewards,
        np.array([f"task-{g * 7 + 3}" for g in groups], dtype=object),
        trajs * 13 + 1000,
        np.array([a.encode() + b"#" for a in anchors]),
        norm=norm,
        episode_stats=stats,
    )
    np.testing.assert_array_equal(base, relabelled)


@given(batches(), st.floats(-3, 3), NORMS)
def test_shifting_every_return_of_a_group_leaves_episode_advantage(batch, shift, norm):
    rewards, groups, trajs, _ = batch
    base = episode_advantages(rewards, groups, trajs, norm=norm)
    # Add `shift` to the last reward of every trajectory of group 0: each return moves by shift.
    shifted = rewards.copy()
    last = {}
    for i, (g, t) in enumerate(zip(groups, trajs)):
        last[(g, t)] = i
    for (g, _), i in last.items():
        if g == 0:
            shifted[i] += shift
    got = episode_advantages(shifted, groups, trajs, norm=norm)
    single = np.array([len({t for gg, t in last if gg == g}) == 1 for g in groups])
    np.testing.assert_allclose(got[~single], base[~single], atol=1e-9)


@given(batches(), st.floats(0.1, 10))
def test_scaling_rewards_leaves_std_normalised_advantages(batch, scale):
    rewards, groups, trajs, anchors = batch
    kw = dict(norm="std", eps=0.0)
    base_ep = episode_advantages(rewards, groups, trajs, **kw)
    base_st = step_advantages(rewards, groups, trajs, anchors, **kw)
    counts = {g: len(set(trajs[groups == g])) for g in set(groups)}
    multi = np.array([counts[g] > 1 for g in groups])
    got_ep = episode_advantages(rewards * scale, groups, trajs, **kw)
    np.testing.assert_allclose(got_ep[multi], base_ep[multi], rtol=1e-6, atol=1e-6)
    got_st = step_advantages(rewards * scale, groups, trajs, anchors, **kw)
    np.testing.assert_allclose(got_st, base_st, rtol=1e-6, atol=1e-6)


@given(batches(), NORMS, STATS)
def test_omega_zero_is_the_episode_part(batch, norm, stats):
    rewards, groups, trajs, anchors = batch
    np.testing.assert_array_equal(
        gigpo_advantages(rewards, groups, trajs, anchors, omega=0.0, norm=norm, episode_stats=stats),
        episode_advantages(rewards, groups, trajs, norm=norm, episode_stats=stats),
    )


@given(batches(), NORMS)
def test_unique_anchors_give_zero_step_part(batch, norm):
    rewards, groups, trajs, _ = batch
    unique = np.arange(len(rewards))
    assert not step_advantages(rewards, groups, trajs, unique, norm=norm).any()
    np.testing.assert_array_equal(
        gigpo_advantages(rewards, groups, trajs, unique, norm=norm),
        episode_advantages(rewards, groups, trajs, norm=norm),
    )


@given(batches(max_groups=1), batches(max_groups=1), NORMS)
def test_step_groups_never_mix_episode_groups(a, b, norm):
    # Two groups sharing every anchor key must give each the result it gets alone.
    ra, ga, ta, aa = a
    rb, gb, tb, ab = b
    rewards = np.concatenate([ra, rb])
    groups = np.concatenate([ga, gb + 1])
    trajs = np.concatenate([ta, tb])
    anchors = np.concatenate([aa, ab])
    got = step_advantages(rewards, groups, trajs, anchors, norm=norm)
    np.testing.assert_allclose(got[: len(ra)], step_advantages(ra, ga, ta, aa, norm=norm), atol=1e-12)
    np.testing.assert_allclose(got[len(ra) :], step_advantages(rb, gb, tb, ab, norm=norm), atol=1e-12)


@given(st.lists(rewards_st, min_size=1, max_size=30), st.floats(0, 1))
def test_one_step_trajectories_return_their_reward(rewards, gamma):
    r = np.array(rewards)
    np.testing.assert_array_equal(discounted_returns(r, np.arange(len(r)), gamma), r)


@given(batches(), NORMS, STATS)
def test_float32_and_float64_inputs_agree(batch, norm, stats):
    rewards, groups, trajs, anchors = batch
    r32 = rewards.astype(np.float32)
    np.testing.assert_array_equal(
        gigpo_advantages(r32, groups, trajs, anchors, norm=norm, episode_stats=stats),
        gigpo_advantages(r32.astype(np.float64), groups, trajs, anchors, norm=norm, episode_stats=stats),
    )


@given(
    st.floats(-5, 5, allow_nan=False),
    st.integers(2, 8),
    st.integers(1, 5),
    NORMS,
    STATS,
    st.floats(0, 1),
)
def test_equal_returns_give_exactly_zero(value, n_traj, length, norm, stats, gamma):
    rewards = np.full(n_traj * length, value)
    groups = np.zeros(n_traj * length, dtype=int)
    trajs = np.repeat(np.arange(n_traj), length)
    anchors = np.tile(np.arange(length), n_traj)  # same state at the same step
    adv = gigpo_advantages(rewards, groups, trajs, anchors, gamma=gamma, norm=norm, episode_stats=stats)
    assert np.all(adv == 0.0)
    assert np.all(rloo_advantages(rewards, groups, trajs) == 0.0)


def test_hand_computed_example():
    # Group of 3 trajectories; states s0 -> s1 -> ... ; the first and third succeed.
    rewards = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    groups = np.zeros(7, dtype=int)
    trajs = np.array([0, 0, 0, 1, 1, 2, 2])
    anchors = np.array(["s0", "s1", "s2", "s0", "s1", "s0", "s3"])
    np.testing.assert_allclose(discounted_returns(rewards, trajs, 0.95), [0.9025, 0.95, 1.0, 0.0, 0.0, 0.95, 1.0])
    np.testing.assert_allclose(episode_returns(rewards, groups, trajs), [1, 1, 1, 0, 0, 1, 1])
    # Episode: returns (1, 0, 1), mean 2/3.
    np.testing.assert_allclose(episode_advantages(rewards, groups, trajs), [1 / 3] * 3 + [-2 / 3] * 2 + [1 / 3] * 2)
    # s0 group: returns (.9025, 0, .95), mean .6175; s1 group: (.95, 0), mean .475.
    np.testing.assert_allclose(
        step_advantages(rewards, groups, trajs, anchors),
        [0.285, 0.475, 0.0, -0.6175, -0.475, 0.3325, 0.0],
    )
    # RLOO: 1 - (0 + 1)/2 = 0.5; 0 - (1 + 1)/2 = -1.
    np.testing.assert_allclose(rloo_advantages(rewards, groups, trajs), [0.5] * 3 + [-1] * 2 + [0.5] * 2)


def test_single_member_group_uses_mean_zero_std_one():
    adv = episode_advantages([0.5, 0.25], [0, 0], [0, 0], norm="std", eps=0.0)
    np.testing.assert_allclose(adv, [0.75, 0.75])


def test_mixed_object_anchor_keys():
    # Returns-to-go (gamma 1): trajectory 0 -> (1, 1), trajectory 1 -> (0, 0).
    rewards = [0.0, 1.0, 0.0, 0.0]
    anchors = np.empty(4, dtype=object)
    anchors[:] = [("a", 1), 3, ("a", 1), 3]
    got = step_advantages(rewards, [0, 0, 0, 0], [0, 0, 1, 1], anchors, gamma=1.0)
    np.testing.assert_allclose(got, [0.5, 0.5, -0.5, -0.5])


def test_empty_input_gives_empty_float64():
    out = gigpo_advantages([], [], [], [])
    assert out.shape == (0,) and out.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rewards=[1.0, np.nan]), "rewards"),
        (dict(rewards=[1.0, np.inf]), "rewards"),
        (dict(rewards=[[1.0, 2.0]]), "rewards"),
        (dict(group_ids=[0]), "group_ids"),
        (dict(traj_ids=[0, 0, 0]), "traj_ids"),
        (dict(anchor_keys=["a"]), "anchor_keys"),
        (dict(norm="max"), "norm"),
        (dict(episode_stats="tokens"), "episode_stats"),
        (dict(gamma=1.5), "gamma"),
        (dict(gamma=-0.1), "gamma"),
        (dict(eps=-1.0), "eps"),
        (dict(omega=np.nan), "omega"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, match):
    args = dict(rewards=[1.0, 0.0], group_ids=[0, 0], traj_ids=[0, 1], anchor_keys=["a", "a"])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gigpo_advantages(
            args.pop("rewards"), args.pop("group_ids"), args.pop("traj_ids"), args.pop("anchor_keys"), **args
        )


# --------------------------------------------------------------------------- PPO: GAE and whitening


def test_gae_matches_a_hand_computation_with_a_terminated_and_a_truncated_trajectory():
    # rows interleaved: a0 b0 a1 b1; a terminates after paying 1, b is cut by the step limit
    rewards, trajs = [0.0, 0.0, 1.0, 0.0], [0, 1, 0, 1]
    values, bootstrap = [0.5, 0.2, 0.8, 0.3], [0.0, 0.0, 0.0, 0.9]
    truncated = np.array([False, False, False, True])
    adv, returns = gae_advantages(rewards, trajs, values, truncated, bootstrap, gamma=0.9, gae_lambda=0.5)
    a1 = 1.0 - 0.8  # terminal: nothing bootstrapped
    a0 = (0.9 * 0.8 - 0.5) + 0.45 * a1
    b1 = 0.9 * 0.9 - 0.3  # truncated: V(s_2) = 0.9 bootstrapped
    b0 = (0.9 * 0.3 - 0.2) + 0.45 * b1
    np.testing.assert_allclose(adv, [a0, b0, a1, b1], rtol=1e-12)
    np.testing.assert_allclose(returns, np.add([a0, b0, a1, b1], values), rtol=1e-12)


@given(batches(), st.floats(0, 1), st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_gae_matches_the_backward_recursion(batch, gamma, lam, seed):
    rewards, groups, trajs, _ = batch
    rng = np.random.default_rng(seed)
    values, bootstrap = rng.normal(size=len(rewards)), rng.normal(size=len(rewards))
    truncated = rng.random(len(rewards)) < 0.5  # read only on each trajectory's last row
    keys = [f"{g}/{t}" for g, t in zip(groups, trajs)]
    got, returns = gae_advantages(
        rewards, trajs, values, truncated, bootstrap, gamma=gamma, gae_lambda=lam, group_ids=groups
    )
    want = ref_gae(rewards, keys, values, truncated, bootstrap, gamma, lam)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(returns, got + values, rtol=1e-12, atol=1e-12)


@given(batches(), st.floats(0, 1))
def test_gae_with_lambda_one_and_no_truncation_is_the_return_minus_the_value(batch, gamma):
    rewards, groups, trajs, _ = batch
    values = np.linspace(-1, 1, len(rewards))
    cut = np.zeros(len(rewards), bool)
    adv, _ = gae_advantages(rewards, trajs, values, cut, values, gamma=gamma, gae_lambda=1.0, group_ids=groups)
    mc = discounted_returns(rewards, trajs, gamma, group_ids=groups)
    np.testing.assert_allclose(adv, mc - values, rtol=1e-9, atol=1e-9)


@given(st.lists(st.floats(-100, 100), min_size=2, max_size=40), st.integers(0, 2**32 - 1))
def test_whiten_gives_token_mean_zero_and_unit_variance(values, seed):
    a = np.array(values)
    weights = np.random.default_rng(seed).integers(1, 5, size=len(a)).astype(float)
    out = whiten(a, weights)
    if np.all(a == a[0]):
        assert np.all(out == 0.0)  # equal advantages: exactly zero, no rounding noise amplified
        return
    tokens = np.repeat(out, weights.astype(int))
    assert abs(tokens.mean()) < 1e-9
    spread = np.repeat(a, weights.astype(int)).var(ddof=1)
    assert tokens.var(ddof=1) == pytest.approx(spread / (spread + 1e-8), rel=1e-6)


def test_gae_and_whiten_reject_bad_input_naming_the_field():
    ok = dict(gamma=0.9, gae_lambda=0.5)
    with pytest.raises(ValueError, match="gae_lambda must lie in"):
        gae_advantages([1.0], [0], [0.0], np.array([False]), [0.0], gamma=0.9, gae_lambda=1.5)
    with pytest.raises(ValueError, match="truncated must be a bool array"):
        gae_advantages([1.0], [0], [0.0], np.array([0]), [0.0], **ok)
    with pytest.raises(ValueError, match="values has 2 rows but rewards has 1"):
        gae_advantages([1.0], [0], [0.0, 1.0], np.array([False]), [0.0], **ok)
    with pytest.raises(ValueError, match="values must be finite"):
        gae_advantages([1.0], [0], [np.nan], np.array([False]), [0.0], **ok)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        whiten([1.0, 2.0], [-1.0, 1.0])


# --------------------------------------------------------------------------- the credit control


@given(batches(), st.integers(0, 2**32 - 1))
def test_permuted_anchor_keys_deal_each_groups_keys_out_again(batch, seed):
    rewards, groups, trajs, anchors = batch
    out = permuted_anchor_keys(groups, anchors, np.random.default_rng(seed))
    assert out.shape == anchors.shape and out.dtype == np.int64
    assert np.array_equal(out, permuted_anchor_keys(groups, anchors, np.random.default_rng(seed)))  # deterministic
    codes = {key: i for i, key in enumerate(sorted(set(anchors)))}
    for g in set(groups):
        mine = groups == g
        # the same multiset of keys in every episode group: its step groups keep their number and sizes
        assert sorted(out[mine]) == sorted(codes[k] for k in anchors[mine])
    # GiGPO on the permuted keys has step groups of the same sizes as on the true ones (loop oracle: Counter)
    true_sizes = sorted(list(zip(groups, anchors)).count(p) for p in set(zip(groups, anchors)))
    permuted_sizes = sorted(list(zip(groups, out)).count(p) for p in set(zip(groups, out)))
    assert permuted_sizes == true_sizes


def test_permuted_anchor_keys_are_uniform_over_each_groups_rows():
    # one group of 4 rows with keys a, a, b, c: each row gets key a half the time, b and c a quarter each
    groups, anchors = np.zeros(4, dtype=np.int64), np.array(["a", "a", "b", "c"])
    draws = np.stack([permuted_anchor_keys(groups, anchors, np.random.default_rng(s)) for s in range(4000)])
    frequency = (draws == 0).mean(axis=0)  # code 0 is "a"
    assert np.all(np.abs(frequency - 0.5) < 0.04), frequency
    assert not np.all(draws == draws[0])  # the rows' keys really move
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        permuted_anchor_keys(groups, anchors, 0)  # type: ignore[arg-type]


def test_the_buffers_permuted_control_is_gigpo_on_the_permuted_keys():
    from trainer.buffer import GroupRolloutBuffer, StepRecord

    rng = np.random.default_rng(7)
    buffer = GroupRolloutBuffer(estimator="gigpo-permuted", norm="std")
    for row in range(24):
        group, traj = row % 2, row % 4
        record = StepRecord(
            [1],
            [2],
            np.zeros(1, np.float32),
            float(rng.random() < 0.3),
            0.0,
            f"s{rng.integers(3)}",
            "o",
            group,
            traj,
            row // 4,
        )
        buffer.add(record)
    with pytest.raises(ValueError, match="needs rng="):
        buffer.compute_advantages()
    a = buffer.arrays()
    got = buffer.compute_advantages(rng=np.random.default_rng(3))
    keys = permuted_anchor_keys(a["group_ids"], a["anchors"], np.random.default_rng(3))
    expected = gigpo_advantages(a["rewards"], a["group_ids"], a["traj_ids"], keys, norm="std", penalties=a["penalties"])
    assert np.array_equal(got, expected)
    true = gigpo_advantages(
        a["rewards"], a["group_ids"], a["traj_ids"], a["anchors"], norm="std", penalties=a["penalties"]
    )
    assert not np.array_equal(got, true)  # the control is not GiGPO


# --------------------------------------------------------------------------- numbers at the edges


@pytest.mark.parametrize(
    "estimate",
    [
        lambda r: grpo_advantages(r, [0, 0], [0, 1]),
        lambda r: episode_advantages(r, [0, 0], [0, 1], norm="std"),
        lambda r: step_advantages(r, [0, 0], [0, 1], ["s", "s"], norm="std"),
        lambda r: gigpo_advantages(r, [0, 0], [0, 1], ["s", "s"], norm="std"),
    ],
)
def test_a_std_that_overflows_raises_instead_of_giving_zero_advantages(estimate):
    # finite returns 1e200 apart: their squares overflow float64, and a std of inf would divide every row to 0
    with pytest.raises(ValueError, match="rewards are too large"):
        estimate([1e200, -1e200])
    assert np.all(estimate([1e100, -1e100]) != 0)  # large, but the statistics fit: real advantages


def test_whiten_raises_when_the_variance_overflows():
    with pytest.raises(ValueError, match="advantages are too large"):
        whiten([1e200, -1e200])


@pytest.mark.parametrize("keys", [["a", "a\x00"], [b"a", b"a\x00"], ("x\x00\x00", "x")])
def test_keys_that_differ_by_trailing_nuls_stay_apart(keys):
    # a NumPy string array drops trailing NULs, which would merge these two anchor states into one step group
    assert list(step_group_ids([0, 0], keys)) == [0, 1]
    got = gigpo_advantages([1.0, 0.0], [0, 0], [0, 1], keys, omega=1.0)
    np.testing.assert_allclose(got, [0.5, -0.5])  # the episode part only: two step groups of one row each
    assert list(step_group_ids([0, 0], [keys[0], keys[0]])) == [0, 0]
