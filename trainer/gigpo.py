"""GiGPO: Group-in-Group Policy Optimization (Feng et al. 2025, arXiv:2505.10978), SB3-style."""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import HumanOutputFormat, Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule
from tqdm.auto import tqdm

from wrappers.actions import project_action
from wrappers.agent_observation import AGENT_KEYS
from wrappers.group_env import GroupVecEnv
from wrappers.prompting import PromptBuilder, describe_env

from . import checkpoint, distributed
from .buffer import (
    GroupRolloutBuffer,
    RolloutBatch,
    StepRecord,
)
from .config import (
    LORA_FIELDS,
    ConfigError,
    TrainConfig,
    check_device,
    check_ignored_settings,
    check_values,
)
from .errors import DivergenceError, custom_code_refused, shown
from .loss import policy_loss, value_loss
from .models.presets import TINY_PRESETS
from .policy import LLMPolicy, Response, left_pad

__all__ = ["GiGPO"]

_DEFAULT = TrainConfig()  # the defaults are the config's: the Python API and the command line share them

# the config fields that are LLMPolicy arguments, by the policy's name for them
POLICY_FIELDS = {
    "model_name_or_path": "model",
    **{
        name: name
        for name in (
            "action_mode",
            "score_reduction",
            "use_lora",
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "target_modules",
            "gradient_checkpointing",
            "temperature",
            "top_p",
            "max_new_tokens",
            "max_prompt_tokens",
            "dtype",
            "attn_implementation",
            "init_seed",
        )
    },
}
# the config fields that are GiGPO arguments, by the algorithm's name for them
ALGORITHM_FIELDS = {
    "estimator": "algo",
    **{
        name: name
        for name in (
            "n_groups",
            "group_size",
            "learning_rate",
            "gamma",
            "omega",
            "norm",
            "episode_stats",
            "anchor",
            "history_length",
            "invalid_action_penalty",
            "penalty_mode",
            "validity_rule",
            "n_epochs",
            "batch_size",
            "micro_batch_size",
            "clip_range",
            "clip_ratio_c",
            "filter_groups",
            "kl_coef",
            "ent_coef",
            "max_grad_norm",
            "gae_lambda",
            "vf_coef",
            "clip_range_vf",
            "seed",
            "device",
            "sharding",
        )
    },
}


class _RoundEpisodes:
    """What a rollout round keeps per copy (its episode's history, return and length) and the episodes it ended."""

    def __init__(self, n_envs: int, start: float) -> None:
        self.start = start
        self.histories: list[list[tuple[str, str]]] = [[] for _ in range(n_envs)]
        self.returns = np.zeros(n_envs)
        self.lengths = np.zeros(n_envs, dtype=int)
        self.invalid = 0
        self.ended: list[dict[str, Any]] = []

    def end(self, i: int, info: dict[str, Any]) -> dict[str, Any]:
        """Copy ``i``'s episode ended (``info``: its last step's): its SB3 episode info, kept for the statistics."""
        episode = {
            "episode": {"r": self.returns[i], "l": int(self.lengths[i]), "t": time.perf_counter() - self.start},
            "is_success": bool(info.get("won", info.get("is_success", False))),
        }
        self.ended.append(episode)
        return episode


class GiGPO(OnPolicyAlgorithm):
    """Group-in-Group Policy Optimization for LLM agents in multi-step text environments.

    Each rollout round draws ``n_groups`` tasks and runs ``group_size`` trajectories of each
    from the same initial state until all are done. Every step's advantage is the episode
    advantage (the trajectory's return normalised in its group) plus ``omega`` times the step
    advantage (the discounted return-to-go normalised among the steps taken from the same
    anchor state of the group). The policy is trained with a PPO-clip loss (dual clip) and a k3
    KL penalty to the reference policy, per response token in ``generate`` mode and per step (one
    ``log pi(a|s)`` over the admissible set) in ``score`` mode. ``estimator="grpo"`` or ``"rloo"`` trains the same way
    with only the episode-level advantage (the baselines of the paper). ``estimator="ppo"`` is the paper's critic
    baseline: a value head on the policy's trunk (:class:`LLMPolicy`'s ``value_head``), GAE over each trajectory's env
    steps and a clipped value loss added to the same policy loss.

    It subclasses SB3's ``OnPolicyAlgorithm``: ``learn``, ``save``/``load``, the logger,
    callbacks and ``set_random_seed`` are SB3's. Overridden because text spaces and LLMs need
    it: ``_wrap_env`` (a :class:`GroupVecEnv` instead of ``DummyVecEnv``, whose numeric buffers
    cannot hold text), ``_setup_model``, ``collect_rollouts`` (group rounds), ``train``, ``learn`` (which also
    takes ``rounds``), ``predict`` (the env's observation with its ``info``, the episode's history in ``state``)
    and ``save`` (written atomically).

    Args:
        policy: ``"LLMPolicy"`` or the :class:`LLMPolicy` class.
        env: a registered env id, a callable returning an env, or a :class:`GroupVecEnv`.
        learning_rate: AdamW learning rate (or a schedule of the remaining progress).
        n_groups: tasks per rollout round.
        group_size: trajectories per task (the paper's N).
        estimator: ``"gigpo"``, ``"grpo"``, ``"rloo"``, ``"ppo"`` or ``"gigpo-permuted"`` (the credit control:
            GiGPO with anchor keys permuted within each episode group, see
            :func:`trainer.advantages.permuted_anchor_keys`).
        gamma: discount of the step returns, and of PPO's GAE (paper: 0.95).
        omega: weight of the step advantage (paper: 1.0).
        norm: ``"mean"`` (paper's GiGPO default) or ``"std"``; ``None`` picks ``"std"`` for GRPO
            and ``"mean"`` otherwise.
        episode_stats: ``"trajectory"`` (the paper's formula: every trajectory counts once) or ``"step"`` (the
            reference code: statistics over the group's rows).
        anchor: ``"state_hash"`` or ``"observation"``: the key of GiGPO's anchor states.
        invalid_action_penalty: penalty of a step whose response is invalid (paper: -0.1 against a success reward
            of 10).
        penalty_mode: ``"row"`` (the reference: the penalty lowers only the invalid row's episode value and
            return-to-go, applied after the returns) or ``"reward"`` (added to the step's reward: it lowers the
            whole trajectory's return and discounts into its earlier steps).
        validity_rule: what makes a generated response valid: ``"admissible"`` (its first ``<action>`` command,
            lower-cased, is admissible) or ``"format"`` (it holds ``<think>`` and ``<action>`` blocks, the
            reference's rule). Score mode only ever picks admissible actions, which are valid.
        history_length: past (observation, action) pairs in the prompt (paper: 2).
        n_epochs: passes over each rollout.
        batch_size: steps per optimiser update (a mini-batch).
        micro_batch_size: steps per forward/backward pass; gradients accumulate over a mini-batch.
        clip_range: PPO clip epsilon (paper: 0.2).
        clip_ratio_c: dual-clip bound on the loss of a negative-advantage step (reference: 3); ``None`` disables it.
        filter_groups: train only on episode groups with some non-zero advantage (DAPO-style dynamic sampling; a
            group of equal returns is kept when GiGPO's step advantage is non-zero there). Mini-batches whose
            advantages are all zero never take an optimiser step, filtered or not: Adam would move the weights by
            about the learning rate with no signal.
        kl_coef: KL penalty coefficient (paper: 0.01). At 0 the round's reference pass is skipped and the log's
            ``train/approx_kl`` (the drift from the rollout policy) replaces ``train/kl`` (from the reference).
        ent_coef: entropy bonus coefficient.
        max_grad_norm: gradient clipping norm.
        gae_lambda: PPO: GAE's lambda in [0, 1] (1: the Monte-Carlo return minus the value).
        vf_coef: PPO: weight of the value loss (a row mean of squared errors) beside the token-mean policy loss.
        clip_range_vf: PPO: the value prediction moves at most this far from the rollout's value in the clipped
            value loss (verl's ``cliprange_value``, 0.5); ``None`` trains the plain squared error. In the rewards'
            units: with a success reward of 10, 0.5 is 5% of it.
        normalize_advantage: PPO: whiten the round's advantages (mean 0, variance 1 over the loss tokens).
        env_kwargs: ``gym.make`` keyword arguments when ``env`` is an id.
        stats_window_size: episodes averaged in the logged success rate and returns.
        tensorboard_log: folder of TensorBoard logs (needs ``tensorboard``).
        policy_kwargs: :class:`LLMPolicy` arguments (``model_name_or_path``, ``action_mode``, LoRA ...).
        verbose: 0 silent, 1 logs, 2 debug.
        seed: seeds task draws, sampling and initialisation.
        device: torch device (``"cpu"``, ``"cuda"`` or ``"auto"``).
        sharding: in a data-parallel run, ``"none"`` (DDP: every rank holds the whole model and optimiser) or
            ``"fsdp"`` (FSDP2 from the first ``learn()``: the optimiser state and the reduced gradients are split
            over the ranks, the weights gathered; :mod:`trainer.distributed`). A single process ignores it; a
            multi-process ``accelerate launch`` with an FSDP config (``configs/accelerate/8gpu_fsdp.yaml``) makes it
            ``"fsdp"``.
        _init_setup_model: build the policy now (SB3's ``load`` passes False).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"LLMPolicy": LLMPolicy}
    # SB3 types these as its actor-critic policy and numeric rollout buffer; this algorithm's are the LLM's own
    policy: LLMPolicy  # type: ignore[assignment]
    rollout_buffer: GroupRolloutBuffer  # type: ignore[assignment]
    env: GroupVecEnv | None

    @classmethod
    def from_config(cls, config: TrainConfig, env: GroupVecEnv | None = None, verbose: int = 0) -> GiGPO:
        """The agent ``config`` describes (``gigpo-train`` builds its agents with this): every config field that
        is an argument of the algorithm or of its :class:`LLMPolicy` is passed, so the two cannot disagree.

        ``env``: a :class:`GroupVecEnv` to train on; by default ``config.env`` with its ``env_kwargs``, the step
        limit and the success reward.
        """
        return cls(
            "LLMPolicy",
            config.env if env is None else env,
            env_kwargs=config.gym_kwargs() if env is None else None,
            # LoRA's settings only with LoRA: policy_kwargs naming one without use_lora is refused (see __init__)
            policy_kwargs={
                name: getattr(config, field)
                for name, field in POLICY_FIELDS.items()
                if config.use_lora or name not in LORA_FIELDS
            },
            verbose=verbose,
            **{name: getattr(config, field) for name, field in ALGORITHM_FIELDS.items()},
        )

    def config_differences(self, config: TrainConfig) -> list[str]:
        """The settings in which this model is not the agent ``config`` describes (what :meth:`from_config` builds),
        where it runs (``device``, ``sharding``) aside, and ``norm`` where the config leaves it to the estimator. A
        resumed checkpoint must have none: its own run config is what ``config.yaml`` states."""
        pairs = [(name, field, getattr(self, name)) for name, field in ALGORITHM_FIELDS.items()]
        pairs += [(f"policy_kwargs.{name}", field, getattr(self.policy, name)) for name, field in POLICY_FIELDS.items()]
        differ = []
        for name, field, have in pairs:
            want = getattr(config, field)
            if field in ("device", "sharding") or (field == "norm" and want is None):
                continue
            if field == "init_seed":  # null in the config: the run's seed for a tiny model (what from_config builds)
                want = _with_init_seed({"model_name_or_path": config.model, "init_seed": want}, config.seed)
                want = want.get("init_seed", 0)
            if isinstance(have, tuple | list) and isinstance(want, tuple | list):
                have, want = list(have), list(want)
            if have != want:
                differ.append(f"{name} {shown(have)} (its config's {field} {shown(want)})")
        return differ

    def __init__(
        self,
        policy: str | type[LLMPolicy],
        env: str | Callable[[], gym.Env] | GroupVecEnv | None,
        learning_rate: float | Schedule = _DEFAULT.learning_rate,
        n_groups: int = _DEFAULT.n_groups,
        group_size: int = _DEFAULT.group_size,
        estimator: str = _DEFAULT.algo,
        gamma: float = _DEFAULT.gamma,
        omega: float = _DEFAULT.omega,
        norm: str | None = _DEFAULT.norm,
        episode_stats: str = _DEFAULT.episode_stats,
        anchor: str = _DEFAULT.anchor,
        invalid_action_penalty: float = _DEFAULT.invalid_action_penalty,
        penalty_mode: str = _DEFAULT.penalty_mode,
        validity_rule: str = _DEFAULT.validity_rule,
        history_length: int = _DEFAULT.history_length,
        n_epochs: int = _DEFAULT.n_epochs,
        batch_size: int = _DEFAULT.batch_size,
        micro_batch_size: int = _DEFAULT.micro_batch_size,
        clip_range: float = _DEFAULT.clip_range,
        clip_ratio_c: float | None = _DEFAULT.clip_ratio_c,
        filter_groups: bool = _DEFAULT.filter_groups,
        kl_coef: float = _DEFAULT.kl_coef,
        ent_coef: float = _DEFAULT.ent_coef,
        max_grad_norm: float = _DEFAULT.max_grad_norm,
        gae_lambda: float = _DEFAULT.gae_lambda,
        vf_coef: float = _DEFAULT.vf_coef,
        clip_range_vf: float | None = _DEFAULT.clip_range_vf,
        normalize_advantage: bool = True,
        env_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = _DEFAULT.device,
        sharding: str = _DEFAULT.sharding,
        _init_setup_model: bool = True,
    ) -> None:
        arguments = dict(locals())  # this call's arguments, before any other name is bound
        policy_kwargs = _with_init_seed(policy_kwargs or {}, seed)
        _check_values(arguments, policy_kwargs)
        model_name = policy_kwargs.get("model_name_or_path", _DEFAULT.model)
        self._dist = distributed.current(device, model_name, policy_kwargs.get("init_seed", 0))
        sharding = distributed.launch_sharding(sharding)  # an accelerate FSDP launch config asks for "fsdp"
        shard = distributed.shard()
        if self._dist is not None and str(device) != "cpu":
            device = self._dist.accelerator.device  # each rank its own GPU (cuda:LOCAL_RANK), not cuda:0 for all
        if env is not None and not isinstance(env, GroupVecEnv):
            env = GroupVecEnv(
                env, n_groups=n_groups, group_size=group_size, env_kwargs=env_kwargs, seed=seed, shard=shard
            )
        if isinstance(env, GroupVecEnv):
            if env.shard != shard:
                raise ValueError(
                    f"the env is shard {env.shard} (rank, world) but this process is {shard}: build it "
                    f"with GroupVecEnv(..., shard={shard})"
                )
            n_groups, group_size = env.total_groups, env.group_size
        _check_arguments(
            batch_size=batch_size,
            micro_batch_size=micro_batch_size,
            group_size=group_size,
            estimator=estimator,
            policy_kwargs=policy_kwargs or {},
            data_parallel=self._dist is not None,
        )
        if _init_setup_model:  # a new model: no setting that does nothing (a loaded one keeps what it was saved with)
            settings = dict(
                estimator=estimator,
                gamma=gamma,
                omega=omega,
                norm=norm,
                episode_stats=episode_stats,
                anchor=anchor,
                invalid_action_penalty=invalid_action_penalty,
                penalty_mode=penalty_mode,
                validity_rule=validity_rule,
                filter_groups=filter_groups,
                gae_lambda=gae_lambda,
                vf_coef=vf_coef,
                clip_range_vf=clip_range_vf,
                normalize_advantage=normalize_advantage,
                sharding=sharding,
            )
            main = self._dist is None or self._dist.is_main
            check_ignored_settings({**(policy_kwargs or {}), **settings}, warn=main)
            named = sorted(set(LORA_FIELDS) & set(policy_kwargs))
            if named and not policy_kwargs.get("use_lora", _DEFAULT.use_lora):
                # named in the call, so set on purpose even at its default value (lora_r=8 is the default rank)
                raise ConfigError(
                    f"policy_kwargs sets {', '.join(named)} but not use_lora=True: LoRA settings act only with "
                    "use_lora=True (without it every weight trains); add use_lora=True or drop them"
                )
        super().__init__(
            policy,  # type: ignore[arg-type]  # an LLMPolicy, not SB3's actor-critic
            env,  # type: ignore[arg-type]  # None builds a model that only predicts, as SB3's load does
            learning_rate=learning_rate,
            n_steps=1,  # rollouts run whole episodes; see collect_rollouts
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=False,
            sde_sample_freq=-1,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            monitor_wrapper=False,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
            supported_action_spaces=(spaces.Text,),
        )
        self.n_groups, self.group_size = n_groups, group_size
        self.estimator = estimator
        self.omega = omega
        self.norm = norm if norm is not None else ("std" if estimator == "grpo" else "mean")
        self.episode_stats = episode_stats
        self.anchor = anchor
        self.invalid_action_penalty = invalid_action_penalty
        self.penalty_mode = penalty_mode
        self.validity_rule = validity_rule
        self.history_length = history_length
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.micro_batch_size = micro_batch_size
        self.clip_range = clip_range
        self.clip_ratio_c = clip_ratio_c
        self.filter_groups = filter_groups
        self.kl_coef = kl_coef
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.sharding = sharding  # how this run spreads over its processes, not a property of the model: not saved
        # saved with the model, so a loaded model prompts as it was trained even without an env
        self.env_description = describe_env(env.env_id if isinstance(env, GroupVecEnv) else None)
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> GroupVecEnv:
        if not isinstance(env, GroupVecEnv):
            raise TypeError(
                "GiGPO needs a GroupVecEnv (n_groups x group_size copies, groups on one task); "
                f"got {type(env).__name__}. Pass an env id to GiGPO(...) or wrap it: GroupVecEnv(env_fn, ...)"
            )
        return env

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, **self.policy_kwargs, value_head=self.estimator == "ppo"
        )
        # the base model as loaded, before any update: a checkpoint records it and refuses to load over another
        self.base_model_identity = checkpoint.base_model_identity(self.policy.model, self.policy.tokenizer)
        self.policy = self.policy.to(self.device)
        self.policy.optimizer = torch.optim.AdamW(self.policy.trainable_parameters(), lr=self.lr_schedule(1.0))
        self.rollout_buffer = GroupRolloutBuffer(
            estimator=self.estimator,
            gamma=self.gamma,
            omega=self.omega,
            norm=self.norm,
            episode_stats=self.episode_stats,
            anchor=self.anchor,
            penalty_mode=self.penalty_mode,
            gae_lambda=self.gae_lambda,
            normalize_advantage=self.normalize_advantage,
        )
        self.prompt_builder = PromptBuilder(env_name=self.env_description, history_length=self.history_length)
        # each rank samples and shuffles with its own stream; rank 0's is a single process's
        rank = self._dist.rank if self._dist else 0
        self._sample_generator = torch.Generator().manual_seed((self.seed if self.seed is not None else 0) + rank)
        self._shuffle_rng = np.random.default_rng(self.seed if rank == 0 else [self.seed or 0, rank])
        self.round_stats: dict[str, float] = {}  # the last rollout round's statistics (logged with it)
        # the engine's data-parallel wrapper of the policy's model: the update's forward passes run through it
        # (FSDP shards in place at the first learn(), after a checkpoint's weights and optimiser state are loaded)
        self._wrapped = self._dist.wrap(self.policy.model) if self._dist and self.sharding == "none" else None

    def _shard(self) -> None:
        """FSDP2 over the ranks (``sharding="fsdp"``): the model in place, then the optimiser over its shards."""
        assert self._dist is not None
        state = self.policy.optimizer.state_dict()
        params = self._dist.fully_shard(self.policy.model)
        self.policy.optimizer = torch.optim.AdamW(params)
        self.policy.optimizer.load_state_dict(self._dist.local_state(state, params))  # lr and moments as they were
        self._wrapped = self.policy.model

    def _setup_lr_schedule(self) -> None:
        self.lr_schedule = FloatSchedule(self.learning_rate)

    def _setup_learn(
        self,
        total_timesteps: int,
        callback=None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ):
        if not self._custom_logger:  # SB3's default would make an empty $TMPDIR/SB3-<time> folder per call
            prints = self.verbose >= 1 and (self._dist is None or self._dist.is_main)  # rank 0 alone prints
            self.set_logger(Logger(None, [HumanOutputFormat(sys.stdout)] if prints else []))
        if self._dist is not None and self.sharding == "fsdp" and not self._dist.sharded:
            self._shard()
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)

    def learn(
        self,
        total_timesteps: int | None = None,
        callback: MaybeCallback = None,
        log_interval: int | None = 1,
        tb_log_name: str = "OnPolicyAlgorithm",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
        rounds: int | None = None,
    ) -> GiGPO:
        """Train for ``rounds`` rollout rounds, or SB3-style until ``num_timesteps`` reaches ``total_timesteps``
        (give exactly one of the two).

        A round (``collect_rollouts`` then ``train``) resets every copy of the ``GroupVecEnv`` (``n_envs = n_groups x
        group_size``) and steps them together until the round's longest episode ends (the env's step limit bounds
        it). As in SB3, ``num_timesteps`` grows by ``n_envs`` per vector step, finished copies included, so a round
        adds ``n_envs x`` its longest episode's length: ``total_timesteps`` runs whole rounds until that count is
        reached (``total_timesteps=1``: one round; with ``reset_num_timesteps=False`` it counts on from
        ``num_timesteps``). ``rounds`` counts rounds directly, as ``gigpo-train``'s ``rounds`` does; the learning-rate
        schedule's progress is then the fraction of rounds done, and ``progress_bar`` counts rounds.

        Callbacks see SB3's events: ``on_step`` once per vector step of a round (``n_envs`` timesteps), which is the
        unit of SB3's step frequencies (``CheckpointCallback(save_freq=...)``, ``EvalCallback(eval_freq=...)``,
        ``EveryNTimesteps`` counts timesteps): a round makes as many ``on_step`` calls as its longest episode has
        steps, at most the env's ``max_episode_steps``. ``on_rollout_end`` comes once per round
        (:class:`~trainer.callbacks.SuccessRateCallback`'s ``eval_freq`` counts rounds). ``EvalCallback`` needs an
        eval env whose observations carry the agent's inputs
        (:class:`~wrappers.agent_observation.AgentObservation`); one without is refused here, before any round.
        ``log_interval``: dump the logger every this many rounds (``None``: never).
        """
        if rounds is None:
            if total_timesteps is None:
                raise TypeError("learn() needs total_timesteps or rounds, e.g. learn(rounds=10)")
            interval = cast(int, log_interval)  # SB3 types an int but reads None as "never"
            return super().learn(total_timesteps, callback, interval, tb_log_name, reset_num_timesteps, progress_bar)
        if total_timesteps is not None:
            raise ValueError(f"give learn() total_timesteps or rounds, not both (got {total_timesteps} and {rounds})")
        if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        # SB3's progress bar counts timesteps up to a total that rounds do not fix in advance: this one counts rounds
        total_timesteps, hooks = self._setup_learn(0, callback, reset_num_timesteps, tb_log_name, False)
        hooks.on_training_start(locals(), globals())  # as SB3's learn: callbacks may read its locals
        assert self.env is not None
        with tqdm(total=int(rounds), desc="rounds", disable=not progress_bar, file=sys.stdout) as bar:
            for iteration in range(1, int(rounds) + 1):
                if not self.collect_rollouts(self.env, hooks, self.rollout_buffer, n_rollout_steps=self.n_steps):
                    break
                self._current_progress_remaining = 1.0 - iteration / rounds
                if log_interval is not None and iteration % log_interval == 0:
                    self.dump_logs(iteration)
                self.train()
                bar.update()
        hooks.on_training_end()
        return self

    def _init_callback(self, callback: MaybeCallback, progress_bar: bool = False) -> BaseCallback:
        for each in _callback_tree(callback):
            if isinstance(each, EvalCallback) and not set(AGENT_KEYS) <= set(
                getattr(each.eval_env.observation_space, "spaces", {})
            ):
                raise ValueError(
                    "EvalCallback's eval env gives GiGPO.predict no 'goal' and 'admissible_commands' (the envs keep "
                    "them in info): wrap it, EvalCallback(AgentObservation(gym.make(env_id))) with "
                    "wrappers.agent_observation.AgentObservation, or use trainer.callbacks.SuccessRateCallback"
                )
        with warnings.catch_warnings():
            # EvalCallback warns when the eval env's class differs from the training env's: a GiGPO model always
            # trains on a GroupVecEnv and evaluates on a plain vector env, which is right
            warnings.filterwarnings("ignore", "Training and eval env are not of the same type")
            return super()._init_callback(callback, progress_bar)

    # ------------------------------------------------------------------ rollout

    def prompt(self, goal: str, history: list[tuple[str, str]], observation: str, admissible: list[str]) -> str:
        """The rendered prompt the policy sees: the agent message in the tokenizer's chat template.

        A prompt longer than the policy's ``max_prompt_tokens`` drops its oldest history pairs first (as the
        reference falls back to a shorter template); the task and the current observation always stay.
        """
        tokenizer, limit = self.policy.tokenizer, self.policy.max_prompt_tokens
        shown = min(len(history), self.history_length)
        while True:
            message = self.prompt_builder.build(goal, history, observation, admissible, history_length=shown)
            text = self.prompt_builder.render(tokenizer, message)
            if shown == 0 or len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= limit:
                return text
            shown -= 1

    def _validity_rule(self) -> str:
        # score mode answers with an admissible action by construction: the format rule's <think> is not asked for
        return "admissible" if self.policy.action_mode == "score" else self.validity_rule

    def act(
        self,
        goals: Sequence[str],
        histories: Sequence[list[tuple[str, str]]],
        observations: Sequence[str],
        admissible: Sequence[list[str]],
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[list[Response], list[str], list[bool]]:
        """The agent's step for a batch of states: prompt -> sample -> parse, shared by the rollout, :meth:`predict`
        and the evaluation.

        Returns each state's response, the command sent to the env (the response's first ``<action>`` command, or
        the response itself when there is none) and whether the response is valid under the validity rule (which
        decides the penalty, never the command). ``generator``: the sampling stream (default: the training one).
        """
        prompts = [self.prompt(*state) for state in zip(goals, histories, observations, admissible, strict=True)]
        responses = self.policy.act(
            prompts, list(admissible), deterministic, self._sample_generator if generator is None else generator
        )
        rule = self._validity_rule()
        parsed = [project_action(r.text, a, rule) for r, a in zip(responses, admissible, strict=True)]
        return responses, [command for command, _ in parsed], [valid for _, valid in parsed]

    def collect_rollouts(  # type: ignore[override]  # text envs and step records, not SB3's numeric buffers
        self, env: GroupVecEnv, callback: BaseCallback, rollout_buffer: GroupRolloutBuffer, n_rollout_steps: int
    ) -> bool:
        """One rollout round: act -> step -> record until every copy has played its group's task to the end, then
        the advantages and the round's statistics (:attr:`round_stats`, logged here).

        ``n_rollout_steps`` is ignored: a round always runs whole episodes (the env's step limit
        bounds it). ``num_timesteps`` grows by ``num_envs`` per vector step, as SB3 counts.
        """
        start = time.perf_counter()
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        # the round's tasks: SB3's _setup_learn resets the env before a learn() call's first round and leaves the
        # observations in _last_obs; every other round resets here. Each draw of tasks is played, so a model
        # loaded with its env's generator state continues the task sequence of a run that never stopped
        obs: list[dict[str, str]] = self._last_obs if self._last_obs is not None else env.reset()  # type: ignore
        self._last_obs = None
        infos = env.infos
        episodes = _RoundEpisodes(env.num_envs, start)
        callback.on_rollout_start()
        while env.active.any():
            running = np.flatnonzero(env.active)
            responses, commands, valid = self.act(
                [infos[i]["goal"] for i in running],
                [episodes.histories[i] for i in running],
                [obs[i]["text"] for i in running],
                [infos[i]["admissible_commands"] for i in running],
            )
            actions: list[str | None] = [None] * env.num_envs
            for i, command in zip(running, commands, strict=True):
                actions[i] = command
            new_obs, rewards, dones, new_infos = env.step(actions)
            ended = self._record_steps(
                rollout_buffer,
                env,
                episodes,
                (running, responses, commands, valid),
                (obs, rewards, dones, new_obs, new_infos),
            )
            obs, infos = new_obs, new_infos
            self.num_timesteps += env.num_envs
            self._update_info_buffer(ended, np.ones(len(ended), dtype=bool))
            callback.update_locals(locals())
            if not callback.on_step():
                return False
        if self.estimator == "ppo":
            self._fill_values(rollout_buffer.records)
        rollout_buffer.compute_advantages(rng=self._anchor_permutation_rng())
        self.round_stats = self._round_statistics(rollout_buffer, episodes)
        for key, value in self.round_stats.items():
            self.logger.record(key, value)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _record_steps(
        self,
        buffer: GroupRolloutBuffer,
        env: GroupVecEnv,
        episodes: _RoundEpisodes,
        acted: tuple[np.ndarray, list[Response], list[str], list[bool]],
        transition: tuple[list[dict[str, str]], np.ndarray, np.ndarray, list[dict[str, str]], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Store one vector step of the running copies (``acted``: their indices, responses, commands and validity;
        ``transition``: the env's observations before, rewards, dones, observations and infos after); returns the
        episodes it ended, in SB3's info format."""
        obs, rewards, dones, new_obs, new_infos = transition
        ended, cut = [], []
        for i, response, command, ok in zip(*acted, strict=True):
            record = StepRecord(
                prompt_ids=response.prompt_ids,
                response_ids=response.response_ids,
                old_logprobs=response.logprobs,
                reward=float(rewards[i]),
                penalty=0.0 if ok else float(self.invalid_action_penalty),
                state_hash=obs[i]["state_hash"],
                observation=obs[i]["text"],
                group_id=int(env.group_ids[i]),
                traj_id=int(i),
                step=int(episodes.lengths[i]),
                candidate_ids=response.candidate_ids,
                choice=response.choice,
                truncated=bool(new_infos[i].get("TimeLimit.truncated", False)),
            )
            buffer.add(record)
            episodes.invalid += not ok
            episodes.histories[i].append((obs[i]["text"], command))
            episodes.returns[i] += rewards[i]
            episodes.lengths[i] += 1
            if record.truncated:
                cut.append((i, record))
            if dones[i]:
                ended.append(episodes.end(i, new_infos[i]))
        if cut and self.estimator == "ppo":  # the critic bootstraps a cut episode from its next state
            next_ids = self.policy.state_ids(
                [
                    self.prompt(
                        new_infos[i]["goal"],
                        episodes.histories[i],
                        new_obs[i]["text"],
                        new_infos[i]["admissible_commands"],
                    )
                    for i, _ in cut
                ]
            )
            for (_, record), ids in zip(cut, next_ids, strict=True):
                record.next_state_ids = ids
        return ended

    def _round_statistics(self, buffer: GroupRolloutBuffer, episodes: _RoundEpisodes) -> dict[str, float]:
        """The round's statistics (over every process in a data-parallel run)."""
        advantages, sizes = np.asarray(buffer.advantages), buffer.step_group_sizes()
        stats = {
            # this round's episodes only (SB3's ep_*_mean average over stats_window_size episodes)
            "rollout/round_success_rate": float(np.mean([e["is_success"] for e in episodes.ended])),
            "rollout/round_return_mean": float(np.mean([e["episode"]["r"] for e in episodes.ended])),
            "rollout/invalid_action_rate": episodes.invalid / len(buffer),
            "rollout/steps": float(len(buffer)),
            "rollout/time_s": time.perf_counter() - episodes.start,
            "gigpo/anchor_fraction": float(np.mean(sizes > 1)),
            "gigpo/mean_step_group_size": float(np.mean(sizes)),
            "gigpo/advantage_std": float(np.std(advantages)),
            "gigpo/zero_advantage_fraction": float(np.mean(advantages == 0.0)),
        }
        return stats if self._dist is None else self._global_round_stats(stats)

    # ------------------------------------------------------------------ update

    def _anchor_permutation_rng(self) -> np.random.Generator | None:
        """The ``gigpo-permuted`` control's stream for this round: a function of the seed, the rank and the updates
        made so far, so that a resumed run permutes as the uninterrupted one did (no state to save)."""
        if self.estimator != "gigpo-permuted":
            return None
        rank = self._dist.rank if self._dist else 0
        return np.random.default_rng([self.seed or 0, rank, self._n_updates])

    def train(self) -> None:
        """``n_epochs`` passes of PPO-clip + KL mini-batch updates over the round's steps."""
        start = time.perf_counter()
        self._update_learning_rate(self.policy.optimizer)
        buffer = self.rollout_buffer
        records = buffer.records
        totals = {"pg": 0.0, "kl": 0.0, "clipped": 0.0, "entropy": 0.0, "tokens": 0.0, "loss": 0.0}
        critic = self.estimator == "ppo"
        if critic:
            totals.update(value_loss=0.0, rows=0.0)
        grad_norms, skipped, steps = [], 0, 0
        params = [p for group in self.policy.optimizer.param_groups for p in group["params"]]  # FSDP: the shards
        # without a KL penalty the reference's log-probs change no gradient: its pass (a quarter of an update) is
        # skipped and the KL term measures the drift from the policy that sampled the round (SB3's approx_kl)
        with_reference = self.kl_coef > 0
        self.policy.set_training_mode(False)  # the frozen reference is evaluated as the rollout was: no dropout
        self._fill_reference_logprobs(records, with_reference)
        self.policy.set_training_mode(True)
        rows = buffer.signal_rows().nonzero()[0] if self.filter_groups else None
        for _ in range(self.n_epochs):
            for batch in self._minibatches(rows):
                if not critic and not self._any_signal(batch.advantages):
                    skipped += 1  # no signal: an Adam step would only add lr-sized noise (PPO's critic always has one)
                    continue
                grad_norms.append(self._minibatch_update(batch, totals, params))
                steps += 1
        self._n_updates += self.n_epochs
        if self._dist is not None:  # every rank's sums: the logged means are over the global mini-batches
            totals = dict(zip(totals, self._dist.sum(list(totals.values())), strict=True))
        # a round without an optimiser step measured nothing: its loss, KL, clip fraction and grad norm are absent
        # from the log and NaN in last_train_stats, never a 0 that reads as a measurement
        trained = steps > 0
        tokens = totals["tokens"]
        measured = trained and self._measures_entropy(records)
        if trained:
            self.logger.record("train/loss", totals["loss"] / tokens)
            self.logger.record("train/policy_gradient_loss", totals["pg"] / tokens)
            self.logger.record("train/kl" if with_reference else "train/approx_kl", totals["kl"] / tokens)
            self.logger.record("train/clip_fraction", totals["clipped"] / tokens)
            self.logger.record("train/grad_norm", float(np.mean(grad_norms)))
        if measured:  # an entropy that was not computed is not a 0 either
            self.logger.record("train/entropy", totals["entropy"] / tokens)
        if critic:
            self.logger.record("train/value_loss", totals["value_loss"] / max(totals["rows"], 1.0))
            values = torch.tensor([r.value for r in records], dtype=torch.float32)
            self.logger.record(
                "train/explained_variance",
                _explained_variance(values, torch.as_tensor(buffer.returns, dtype=torch.float32)),
            )
        self.logger.record("train/optimizer_steps", steps)
        self.logger.record("train/skipped_zero_advantage_batches", skipped)
        if rows is not None:
            kept, total = [len(rows), len(records)] if self._dist is None else self._dist.sum([len(rows), len(records)])
            self.logger.record("train/kept_fraction", kept / max(total, 1))
        self.logger.record("train/learning_rate", self.policy.optimizer.param_groups[0]["lr"])
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/time_s", time.perf_counter() - start)
        skip = ("tokens", "rows", "value_loss") if measured else ("tokens", "rows", "value_loss", "entropy")
        self.last_train_stats = {k: v / tokens if trained else math.nan for k, v in totals.items() if k not in skip}
        if critic:
            self.last_train_stats["value_loss"] = totals["value_loss"] / max(totals["rows"], 1.0)
        self.last_train_stats.update(
            optimizer_steps=steps,
            skipped_batches=skipped,
            grad_norm=float(np.mean(grad_norms)) if trained else math.nan,
        )

    def _global_round_stats(self, stats: dict[str, float]) -> dict[str, float]:
        """The round's statistics over every rank: episode means (every rank plays as many episodes), row-weighted
        means of the per-row ones, the pooled advantage spread, the summed step count and the slowest rollout."""
        dist = self._dist
        assert dist is not None  # called in data-parallel runs only
        advantages = np.asarray(self.rollout_buffer.advantages, dtype=np.float64)
        rows = stats["rollout/steps"]
        episodes = ("rollout/round_success_rate", "rollout/round_return_mean")
        per_row = [k for k in stats if k not in (*episodes, "rollout/steps", "rollout/time_s", "gigpo/advantage_std")]
        sums = dist.sum(
            [stats[k] for k in episodes]
            + [stats[k] * rows for k in per_row]
            + [rows, advantages.sum(), (advantages**2).sum()]
        )
        total_rows, adv_sum, adv_sq = sums[-3:]
        out = {k: v / dist.world for k, v in zip(episodes, sums, strict=False)}
        out.update({k: v / total_rows for k, v in zip(per_row, sums[len(episodes) :], strict=False)})
        mean = adv_sum / total_rows
        out.update(
            {
                "rollout/steps": total_rows,
                "rollout/time_s": dist.max(stats["rollout/time_s"]),
                "gigpo/advantage_std": math.sqrt(max(adv_sq / total_rows - mean**2, 0.0)),
            }
        )
        return out

    def _minibatches(self, rows: np.ndarray | None) -> Iterator[RolloutBatch]:
        """The round's shuffled mini-batches of this process's steps (``rows``: the kept ones, default all).

        Data-parallel, every rank splits its steps into the same number of parts (DDP reduces in lockstep), about
        ``batch_size`` steps per global mini-batch; a rank's part can be empty when filtering kept none of its rows.
        """
        buffer = self.rollout_buffer
        if self._dist is None:
            yield from buffer.minibatches(self.batch_size, self._shuffle_rng, rows)
            return
        order = self._shuffle_rng.permutation(len(buffer) if rows is None else np.asarray(rows))
        total = self._dist.sum([len(order)])[0]
        for part in np.array_split(order, max(1, math.ceil(total / self.batch_size))):
            yield buffer.batch(part)

    def _any_signal(self, advantages: np.ndarray) -> bool:
        """Whether the (global) mini-batch holds a non-zero advantage: every rank makes the same decision."""
        local = bool(np.any(advantages))
        return local if self._dist is None else self._dist.sum([float(local)])[0] > 0

    def _minibatch_update(
        self, batch: RolloutBatch, totals: dict[str, float], params: list[torch.nn.Parameter]
    ) -> float:
        """One optimiser step on a mini-batch, accumulated over micro-batches; returns the gradient norm.

        The loss is the token mean over the global mini-batch: its token count is summed over the ranks, and as
        the engine averages the ranks' gradients (DDP's all-reduce, FSDP's reduce-scatter), each rank's loss is
        scaled by their number. Under FSDP the step updates this rank's shards, whose weights are then gathered.
        PPO (the batch has the rollout's values and the returns) adds ``vf_coef`` times the mini-batch's mean value
        loss.
        """
        self.policy.optimizer.zero_grad(set_to_none=True)
        weight = 1.0
        if (
            len(batch.rows) == 0
        ):  # this rank holds no step of the global mini-batch: a zero-weight pass keeps it in step
            batch, weight = self.rollout_buffer.batch(np.array([0])), 0.0
        local_tokens = weight * sum(self._n_tokens(record) for record in batch.records)
        n_tokens = local_tokens if self._dist is None else self._dist.sum([local_tokens])[0]
        scale = weight * (self._dist.world if self._dist is not None else 1)
        micro_batches = list(batch.micro_batches(self.micro_batch_size))
        dist, wrapped = self._dist, self._wrapped
        loss_sum = 0.0
        with self.policy.forward_through(wrapped):
            for m, micro in enumerate(micro_batches):
                sync = m == len(micro_batches) - 1
                with dist.no_sync(wrapped, sync=sync) if dist is not None and wrapped is not None else nullcontext():
                    loss, stats = self._micro_batch_loss(micro, len(batch.rows), n_tokens, totals)
                    (loss * scale).backward()
                for key, value in stats.items():
                    totals[key] += weight * value
                loss_sum += (loss_value := loss.item())
                totals["loss"] += weight * loss_value * n_tokens
        totals["tokens"] += local_tokens
        norm = float(torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm))
        # a non-finite loss or gradient stops before the step, so the weights stay the last finite ones; every rank
        # decides alike (the norm is global, the losses' verdicts are summed)
        bad_loss = not math.isfinite(loss_sum)
        if dist is not None and dist.sum([float(bad_loss)])[0] and not bad_loss:
            raise DivergenceError("the loss is not finite on another process")
        if bad_loss or not math.isfinite(norm):
            raise DivergenceError(f"the loss is {loss_sum}" if bad_loss else f"the gradient norm is {norm}")
        self.policy.optimizer.step()
        if dist is not None and dist.sharded:
            dist.refresh_weights()
        return norm

    def _micro_batch_loss(
        self, micro: RolloutBatch, batch_rows: int, n_tokens: float, totals: dict[str, float]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The PPO-clip + KL loss of a micro-batch (plus PPO's value loss, its sum over the ``batch_rows`` steps of
        the mini-batch, whose total it adds to ``totals``) and the policy loss's statistics."""
        records = micro.records
        logp, mask, entropy = self._logprobs(records, with_entropy=self._measures_entropy(records))
        width = logp.shape[1]
        old = left_pad([r.old_logprobs for r in records], 0.0, torch.float32, width)[0]
        refs = [r.ref_logprobs for r in records]  # filled once per round by train() before any update
        if any(ref is None for ref in refs):
            raise RuntimeError("the reference log-probs of the round are missing: train() fills them first")
        ref_logp = left_pad(cast(list[np.ndarray], refs), 0.0, torch.float32, width)[0]
        loss, stats = policy_loss(
            logp,
            old,
            ref_logp,
            torch.as_tensor(micro.advantages, dtype=torch.float32),
            mask,
            clip_range=self.clip_range,
            clip_ratio_c=self.clip_ratio_c,
            kl_coef=self.kl_coef,
            ent_coef=self.ent_coef,
            entropy=entropy,
            n_tokens=n_tokens,
        )
        if micro.old_values is not None and micro.returns is not None:
            v_loss = value_loss(
                self.policy.values([r.prompt_ids for r in records]),
                torch.as_tensor(micro.old_values, dtype=torch.float32),
                torch.as_tensor(micro.returns, dtype=torch.float32),
                self.clip_range_vf,
            ).sum()
            loss = loss + self.vf_coef * v_loss / batch_rows
            totals["value_loss"] += v_loss.item()
            totals["rows"] += len(records)
        return loss, stats

    def _measures_entropy(self, records: list[StepRecord]) -> bool:
        """Whether an update computes the policy's entropy: always in score mode (the admissible set's log-probs are
        at hand, so it is a sum over a few actions); in generate mode (a pass over the vocabulary at every token)
        only when the loss uses it or the run is verbose."""
        return records[0].candidate_ids is not None or self.ent_coef > 0 or self.verbose >= 1

    def _n_tokens(self, record: StepRecord) -> int:
        """The loss's tokens of a step: its response tokens, or one (``log pi(a|s)``) in score mode."""
        return 1 if record.candidate_ids is not None else len(record.response_ids)

    def _logprobs(
        self, records: list[StepRecord], reference: bool = False, with_entropy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(B, T)`` log-probs of the steps' responses, their mask and entropy, under the policy (or reference).

        Score mode: ``T = 1``, the chosen action's ``log pi(a|s)`` over its admissible set, and the exact entropy
        of that distribution. Generate mode: the response tokens' log-probs, right-aligned.
        """
        if records[0].candidate_ids is None:
            return self.policy.response_logprobs(
                [r.prompt_ids for r in records], [r.response_ids for r in records], reference, with_entropy
            )
        logps = self.policy.candidate_logprobs(
            [r.prompt_ids for r in records], [r.candidate_ids or [] for r in records], reference
        )
        chosen = torch.stack([lp[r.choice] for lp, r in zip(logps, records, strict=True)])[:, None]
        entropy = torch.stack([-(lp.exp() * lp).sum() for lp in logps])[:, None] if with_entropy else None
        return chosen, torch.ones_like(chosen), entropy

    @torch.no_grad()
    def _fill_values(self, records: list[StepRecord]) -> None:
        """PPO: the critic's value of every step's state, and of the successor of a step cut by the step limit."""
        cut = [(r, r.next_state_ids) for r in records if r.next_state_ids is not None]
        for record, value in zip(records, self._values([r.prompt_ids for r in records]), strict=True):
            record.value = value
        for (record, _), value in zip(cut, self._values([ids for _, ids in cut]), strict=True):
            record.next_value = value

    def _values(self, state_ids: list[list[int]]) -> list[float]:
        size = self.micro_batch_size
        return [v for m in range(0, len(state_ids), size) for v in self.policy.values(state_ids[m : m + size]).tolist()]

    @torch.no_grad()
    def _fill_reference_logprobs(self, records: list[StepRecord], with_reference: bool = True) -> None:
        """The reference policy's log-probs of every step, computed once per round in micro-batches.

        ``with_reference=False`` copies the rollout's log-probs instead (no forward pass).
        """
        if not with_reference:
            for record in records:
                record.ref_logprobs = np.asarray(record.old_logprobs).copy()
            return
        for m in range(0, len(records), self.micro_batch_size):
            micro = records[m : m + self.micro_batch_size]
            logp, _, _ = self._logprobs(micro, reference=True)
            logp = logp.cpu()
            for b, record in enumerate(micro):
                record.ref_logprobs = logp[b, logp.shape[1] - self._n_tokens(record) :].numpy().copy()

    # ------------------------------------------------------------------ inference and persistence

    def predict(  # type: ignore[override]  # text observations in, commands out
        self,
        observation: dict[str, Any] | Sequence[dict[str, Any]],
        state: History | None = None,
        episode_start: np.ndarray | Sequence[bool] | bool | None = None,
        deterministic: bool = False,
        info: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    ) -> tuple[str | list[str], History]:
        """The agent's command for what an env's ``reset``/``step`` returned, with SB3's signature.

        ``observation``: one env observation (a dict with a ``text`` string), or a batch: a list of them, or one
        dict of per-env values (how SB3's ``VecEnv`` and Gymnasium's vector envs batch a ``Dict`` space). The prompt
        also needs the task (``goal``) and the ``admissible_commands``, which the envs return in ``info``: pass the
        env's ``info`` (a dict for one observation; for a batch a list of dicts or a vector env's dict of arrays),
        or wrap the env in :class:`~wrappers.agent_observation.AgentObservation`, whose observations carry them
        (SB3's ``evaluate_policy`` and ``EvalCallback`` pass ``predict`` no ``info``).

        ``state`` carries each episode's history (its past (observation text, command) pairs, which the prompt
        shows as in training), as SB3's recurrent policies carry theirs: pass back the state the last call
        returned, with ``episode_start`` (per observation: True where an episode has just begun, SB3's ``dones``)
        clearing it; ``state=None`` begins every episode. ``evaluate_policy`` and ``EvalCallback`` do both.

        Returns ``(command, state)`` for one observation (the command is ``env.step``'s action), ``(commands,
        state)`` for a batch; ``state`` is a tuple of one history per observation. ``deterministic``: the most likely
        command (score mode) or greedy decoding (generate mode); otherwise it samples from the training stream.

        Example::

            obs, info = env.reset()
            state, done = None, False
            while not done:
                command, state = model.predict(obs, state, info=info)
                obs, reward, terminated, truncated, info = env.step(command)
                done = terminated or truncated
        """
        texts, goals, admissible, single = _agent_inputs(observation, info)
        histories = _histories(state, episode_start, len(texts))
        generator = torch.Generator().manual_seed(0) if deterministic else None
        _, commands, _ = self.act(goals, [list(h) for h in histories], texts, admissible, deterministic, generator)
        new_state = tuple((*h, (t, c)) for h, t, c in zip(histories, texts, commands, strict=True))
        return (commands[0] if single else commands), new_state

    # the constructor arguments a checkpoint stores (with learning_rate, stats_window_size and policy_kwargs)
    _SAVED_ARGUMENTS: ClassVar[tuple[str, ...]] = (
        "n_groups",
        "group_size",
        "estimator",
        "gamma",
        "omega",
        "norm",
        "episode_stats",
        "anchor",
        "invalid_action_penalty",
        "penalty_mode",
        "validity_rule",
        "history_length",
        "n_epochs",
        "batch_size",
        "micro_batch_size",
        "clip_range",
        "clip_ratio_c",
        "filter_groups",
        "kl_coef",
        "ent_coef",
        "max_grad_norm",
        "gae_lambda",
        "vf_coef",
        "clip_range_vf",
        "normalize_advantage",
        "verbose",
        "seed",
    )

    def generator_states(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """This process's sampling and shuffling streams and the global generators, as JSON data and tensors."""
        return checkpoint.generator_states(self._sample_generator, self._shuffle_rng)

    def save(  # type: ignore[override]  # a data-only archive of its own, returning where it went
        self,
        path: str | os.PathLike[str],
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write a data-only checkpoint (:mod:`trainer.checkpoint`) atomically; ``.zip`` is added to a bare name.

        It holds the constructor arguments, weights, optimiser state, counters, episode statistics and every random
        generator (the env's task draws too), so ``GiGPO.load(path, env=...)`` continues this model exactly.
        A learning-rate schedule is code, not data: its current value is saved. ``extra``: JSON data of the
        caller's, returned by :meth:`load_extra`.

        In a data-parallel run every rank calls it, in step: it gathers every rank's sampling streams (so that a
        resume on as many processes continues each rank's) and, under FSDP, the full weights and optimiser state
        from their shards (so the checkpoint is the one a single process writes); rank 0 alone writes the file.
        """
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"{path} is a folder; save to a file name in it, e.g. {path / 'model.zip'}")
        if path.suffix != ".zip":
            path = path.with_name(path.name + ".zip")
        arguments = {name: getattr(self, name) for name in self._SAVED_ARGUMENTS}
        arguments.update(
            learning_rate=float(self.lr_schedule(self._current_progress_remaining)),
            stats_window_size=self._stats_window_size,
            # every argument of the policy as it was built, not only those given: a load must not fill a missing
            # one from the defaults of the code that loads it
            policy_kwargs={name: getattr(self.policy, name) for name in (*POLICY_FIELDS, "score_chunk")},
        )
        rng, tensors = self.generator_states()
        dist = self._dist
        rank_states = dist.gather((rng, tensors)) if dist is not None else None
        weights, optimizer = self.policy.state_dict(), self.policy.optimizer.state_dict()
        if dist is not None and dist.sharded:
            weights = dist.full(weights)
            optimizer["state"] = {i: dist.full(values) for i, values in optimizer["state"].items()}
            # FSDP's state_dict() leaves the shards registered as the module's parameters: gather again, or PEFT's
            # adapter switch (the reference pass) would freeze the shards the optimiser holds
            dist.refresh_weights()
        if dist is not None and not dist.is_main:
            return path
        if rank_states is not None and len(rank_states) > 1:
            rng["ranks"] = [data for data, _ in rank_states]
            for rank, (_, rank_tensors) in enumerate(rank_states):
                tensors.update({f"rank{rank}.{name}": value for name, value in rank_tensors.items()})
        if isinstance(self.env, GroupVecEnv):
            rng["env"] = self.env.rng_state()
        for index, values in optimizer["state"].items():
            tensors.update({f"optim.{index}.{key}": torch.as_tensor(value) for key, value in values.items()})
        meta = {
            "algorithm": type(self).__name__,
            "arguments": arguments,
            "spaces": {
                "observation": checkpoint.describe_space(self.observation_space),
                "action": checkpoint.describe_space(self.action_space),
                "env_description": self.env_description,
            },
            "counters": {
                "num_timesteps": self.num_timesteps,
                "n_updates": self._n_updates,
                "episode_num": self._episode_num,
                "progress_remaining": self._current_progress_remaining,
            },
            "episodes": {
                "info": [{"r": float(e["r"]), "l": int(e["l"]), "t": float(e["t"])} for e in self.ep_info_buffer or []],
                "success": [bool(x) for x in self.ep_success_buffer or []],
            },
            "rng": rng,
            "optimizer": {
                "param_groups": optimizer["param_groups"],
                "state_keys": {str(i): sorted(v) for i, v in optimizer["state"].items()},
            },
            "extra": extra or {},
            "base_model": {"name": self.policy.model_name_or_path, "identity": self.base_model_identity},
        }
        return checkpoint.write_archive(path, meta, weights, tensors)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | os.PathLike[str],
        env: str | Callable[[], gym.Env] | GroupVecEnv | None = None,
        device: torch.device | str = "auto",
        trust_legacy_pickle: bool = False,
        sharding: str = _DEFAULT.sharding,
        allow_base_model_change: bool = False,
        **kwargs: Any,
    ) -> GiGPO:
        """A model from a checkpoint of :meth:`save`, on ``env`` (optional: without one it can ``predict``).

        Nothing in the file is unpickled or executed; a corrupt, truncated or foreign file raises
        :class:`~trainer.checkpoint.CheckpointError` naming the problem. With ``env`` (a :class:`GroupVecEnv`),
        its task draws continue from the saved generator state. ``kwargs`` change saved constructor arguments
        (e.g. ``learning_rate``); ``sharding`` is how this run spreads over its processes (a checkpoint holds full
        tensors, whatever the run that wrote it). ``trust_legacy_pickle=True`` loads a pickled Stable-Baselines3
        archive (what gigpo-gym 0.1 wrote) with SB3's loader, which runs whatever code the file holds: only for files
        you trust.

        Every setting must be in the file (none is filled from this code's defaults) or in ``kwargs``; the policy
        tensors must be exactly the model's (names, shapes, dtypes); and the base model loaded now must be the one
        the checkpoint was trained on (:func:`~trainer.checkpoint.base_model_identity`), unless
        ``allow_base_model_change=True``.
        """
        if checkpoint.is_legacy(path):
            if not trust_legacy_pickle:
                raise checkpoint.CheckpointError(checkpoint.legacy_message(Path(path)))
            return super().load(
                path,  # type: ignore[arg-type]
                env=env,  # type: ignore[arg-type]
                device=device,
                custom_objects={"tensorboard_log": None},
                **kwargs,
            )
        archive = checkpoint.read_archive(path)
        meta = archive.meta
        if meta["algorithm"] != cls.__name__:
            raise checkpoint.CheckpointError(f"{path} holds a {meta['algorithm']!r} model, not {cls.__name__}")
        arguments = dict(meta["arguments"])
        allowed = {*cls._SAVED_ARGUMENTS, "learning_rate", "stats_window_size", "policy_kwargs"}
        # a caller may also name where its env and logs are (a checkpoint never does: paths in it are not used)
        unknown = (set(arguments) - allowed) | (set(kwargs) - allowed - {"env_kwargs", "tensorboard_log"})
        if unknown:
            raise checkpoint.CheckpointError(f"{path}: unknown constructor arguments {sorted(unknown)}")
        arguments.update(kwargs)
        _complete_arguments(path, meta["version"], arguments, allowed)
        try:
            model = cls("LLMPolicy", env, device=device, sharding=sharding, _init_setup_model=False, **arguments)
            spaces_meta = meta["spaces"]
            saved_spaces = (
                checkpoint.build_space(spaces_meta["observation"]),
                checkpoint.build_space(spaces_meta["action"]),
            )
            if model.env is None:
                model.observation_space, model.action_space = saved_spaces
            elif (model.observation_space, model.action_space) != saved_spaces:
                raise checkpoint.CheckpointError(
                    f"the env's spaces {model.observation_space}, {model.action_space} differ from the checkpoint's "
                    f"{saved_spaces[0]}, {saved_spaces[1]}"
                )
            model.env_description = str(spaces_meta["env_description"])
            model._setup_model()
            _check_content(path, archive, model, allow_base_model_change)
            model.policy.load_state_dict(archive.policy, strict=True)
            optimizer = model.policy.optimizer
            optimizer.load_state_dict(checkpoint.optimizer_state(path, meta["optimizer"], archive.state, optimizer))
            counters, episodes = meta["counters"], meta["episodes"]
            model.num_timesteps, model._n_updates = int(counters["num_timesteps"]), int(counters["n_updates"])
            model._episode_num = int(counters["episode_num"])
            model._current_progress_remaining = float(counters["progress_remaining"])
            model.ep_info_buffer = deque(episodes["info"], maxlen=model._stats_window_size)
            model.ep_success_buffer = deque(episodes["success"], maxlen=model._stats_window_size)
            data, tensors = meta["rng"], archive.state
            ranks, rank = data.get("ranks"), model._dist.rank if model._dist is not None else 0
            sample, shuffle = model._sample_generator, model._shuffle_rng
            if model._dist is not None and isinstance(ranks, list) and len(ranks) == model._dist.world:
                # a run of as many processes: each rank continues its own streams
                data = ranks[rank]
                tensors = {k[len(f"rank{rank}.") :]: v for k, v in tensors.items() if k.startswith(f"rank{rank}.")}
            elif rank > 0:  # another process count: rank 0 continues its streams, the others keep their seed's
                sample, shuffle = torch.Generator(), np.random.default_rng()
            checkpoint.restore_generators(data, tensors, sample, shuffle)
            if isinstance(model.env, GroupVecEnv) and "env" in meta["rng"]:
                model.env.set_rng_state(meta["rng"]["env"])
        except checkpoint.CheckpointError:
            raise
        except KeyError as error:
            raise checkpoint.CheckpointError(f"{path} does not fit a {cls.__name__} model: no entry {error}") from error
        except (TypeError, ValueError, RuntimeError) as error:
            refused = custom_code_refused(str(arguments["policy_kwargs"]["model_name_or_path"]), error)
            raise checkpoint.CheckpointError(
                f"{path}: {refused}" if refused else f"{path} does not fit a {cls.__name__} model: {error}"
            ) from error
        except OSError as error:  # the model it names (a path, a hub id offline) cannot be loaded here
            raise checkpoint.CheckpointError(f"{path} names a model that cannot be loaded here: {error}") from error
        return model

    @staticmethod
    def load_extra(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The ``extra`` data a checkpoint was saved with (``gigpo-train`` keeps its run state there)."""
        return checkpoint.read_meta(path)["extra"]


def _check_values(arguments: dict[str, Any], policy_kwargs: dict[str, Any]) -> None:
    """The config's checks of single values (choices, bounds) on ``GiGPO``'s and ``LLMPolicy``'s arguments, named as
    the Python API names them; the device must exist here. ``None`` (SB3's unseeded run, no dual clip) and a
    learning-rate schedule are the API's own and pass."""
    given = {field: arguments[name] for name, field in ALGORITHM_FIELDS.items() if name in arguments}
    given.update({field: policy_kwargs[name] for name, field in POLICY_FIELDS.items() if name in policy_kwargs})
    labels = {field: name for name, field in {**ALGORITHM_FIELDS, **POLICY_FIELDS}.items()}
    device = given.pop("device", None)
    check_values({k: v for k, v in given.items() if v is not None and not callable(v)}, labels)
    if isinstance(device, str | torch.device):
        check_device(str(device))


def _with_init_seed(policy_kwargs: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """``policy_kwargs`` with a random-weight model's ``init_seed`` filled in: the run's seed unless given, so that
    runs on different seeds start from different weights. For other models an unset (``None``) one is dropped."""
    init_seed = policy_kwargs.get("init_seed")
    if policy_kwargs.get("model_name_or_path", _DEFAULT.model) in TINY_PRESETS:
        return {**policy_kwargs, "init_seed": (seed or 0) if init_seed is None else init_seed}
    return {k: v for k, v in policy_kwargs.items() if k != "init_seed" or v is not None}


# predict's state: per observation, its episode's (observation text, command) pairs so far
History = tuple[tuple[tuple[str, str], ...], ...]


def _agent_inputs(
    observation: dict[str, Any] | Sequence[dict[str, Any]], info: dict[str, Any] | Sequence[dict[str, Any]] | None
) -> tuple[list[str], list[str], list[list[str]], bool]:
    """The texts, goals and admissible commands of :meth:`GiGPO.predict`'s observation(s) (with ``info``), and whether
    it was one observation."""
    if isinstance(observation, dict) and isinstance(observation.get("text"), list | tuple | np.ndarray):
        n = len(observation["text"])  # a batched Dict: every key holds one value per env
        batch = [{key: values[i] for key, values in observation.items()} for i in range(n)]
        single = False
    else:
        single = isinstance(observation, dict)
        batch = [cast(dict, observation)] if single else list(cast(Sequence, observation))
    if not batch:
        raise ValueError("predict needs at least one observation")
    if info is None:
        infos: list[dict[str, Any]] = [{} for _ in batch]
    elif single or not isinstance(info, dict):
        infos = [cast(dict, info)] if single else list(cast(Sequence, info))
    else:  # a Gymnasium vector env's info: per key, an array over the envs and a "_key" mask of where it is set
        infos = [
            {k: info[k][i] for k in AGENT_KEYS if k in info and info.get(f"_{k}", np.ones(len(batch), bool))[i]}
            for i in range(len(batch))
        ]
    if len(infos) != len(batch) or not all(isinstance(d, dict) for d in infos):
        raise ValueError(f"info must be one dict per observation ({len(batch)}), got {info!r:.200}")
    texts, goals, admissible = [], [], []
    for i, (obs, extra) in enumerate(zip(batch, infos, strict=True)):
        if not isinstance(obs, dict) or not isinstance(obs.get("text"), str):
            raise TypeError(f"an observation must be a dict with a 'text' string, got {obs!r:.200}")
        if "history" in obs:
            raise ValueError(
                "predict keeps the history in its state: pass back the state it returned, not obs['history']"
            )
        found = {key: obs[key] if key in obs else extra.get(key) for key in AGENT_KEYS}
        for key, value in found.items():
            if value is None:
                raise ValueError(
                    f"observation {i} has no {key!r} and no info gives it: call predict(obs, state, info=info) with "
                    "the env's info, or wrap the env in wrappers.agent_observation.AgentObservation (for SB3's "
                    "evaluate_policy and EvalCallback)"
                )
        commands = cast(Sequence, found["admissible_commands"])
        if not isinstance(found["goal"], str):
            raise TypeError(f"observation {i}: 'goal' must be a string, got {found['goal']!r:.200}")
        if isinstance(commands, str) or not all(isinstance(c, str) for c in commands):
            raise TypeError(f"observation {i}: 'admissible_commands' must be a list of strings, got {commands!r:.200}")
        texts.append(obs["text"])
        goals.append(found["goal"])
        admissible.append(list(commands))
    return texts, goals, admissible, single


def _histories(state: History | None, episode_start: Any, n: int) -> list[tuple[tuple[str, str], ...]]:
    """Each observation's history from :meth:`GiGPO.predict`'s ``state``, empty where an episode starts."""
    if state is None:
        return [() for _ in range(n)]
    if not isinstance(state, tuple | list) or len(state) != n:
        raise ValueError(
            f"state must be the state predict returned for these {n} observation(s), got {type(state).__name__} "
            f"of length {len(state) if isinstance(state, tuple | list) else '-'}"
        )
    starts = np.zeros(n, bool) if episode_start is None else np.asarray(episode_start, dtype=bool).reshape(-1)
    if len(starts) != n:
        raise ValueError(f"episode_start must hold one flag per observation ({n}), got {len(starts)}")
    return [() if start else tuple(history) for history, start in zip(state, starts, strict=True)]


def _callback_tree(callback: Any) -> Iterator[Any]:
    """``callback`` and every callback inside it (lists, ``CallbackList``, an ``EventCallback``'s child)."""
    if isinstance(callback, list | tuple):
        for each in callback:
            yield from _callback_tree(each)
    elif isinstance(callback, BaseCallback):
        yield callback
        yield from _callback_tree(getattr(callback, "callbacks", None))  # CallbackList
        yield from _callback_tree(getattr(callback, "callback", None))  # EventCallback's child


def _check_arguments(
    *,
    batch_size: int,
    micro_batch_size: int,
    group_size: int,
    estimator: str,
    policy_kwargs: dict[str, Any],
    data_parallel: bool,
) -> None:
    """Raise a ValueError naming the first constructor argument of :class:`GiGPO` that cannot work together with
    another (each value on its own was checked by :func:`trainer.config.check_values`)."""
    if micro_batch_size > batch_size:
        raise ValueError(f"micro_batch_size ({micro_batch_size}) must not exceed batch_size ({batch_size})")
    if group_size < 2:  # the env's, where a GroupVecEnv was given
        raise ValueError(f"group_size must be >= 2 for group-relative advantages, got {group_size}")
    if "value_head" in policy_kwargs:
        raise ValueError("policy_kwargs must not set value_head: estimator='ppo' adds the critic")
    if estimator == "ppo" and data_parallel:
        # the value head lives outside the engine's wrapped model: its gradients would not be reduced
        raise ValueError("estimator='ppo' runs in one process: data-parallel PPO is not supported")


# settings added after the first data-only checkpoints (version 1), with the value every run before them used
_ADDED_ARGUMENTS = {"gae_lambda": 0.95, "vf_coef": 0.5, "clip_range_vf": 0.5}
# init_seed 0: every tiny model before init_seed was built from seed 0
_ADDED_POLICY_ARGUMENTS = {"dtype": "float32", "attn_implementation": None, "score_chunk": 16, "init_seed": 0}


def _check_content(
    path: str | os.PathLike[str], archive: checkpoint.Archive, model: GiGPO, allow_base_model_change: bool
) -> None:
    """Refuse a checkpoint whose content does not fit the model just built from its settings: another base model
    (unless allowed), policy tensors that are not exactly the model's, counters out of bounds."""
    meta = archive.meta
    saved_base = meta.get("base_model")
    if saved_base is not None and saved_base["identity"] != model.base_model_identity and not allow_base_model_change:
        raise checkpoint.CheckpointError(
            f"{path} was trained on another base model than the {saved_base['name']!r} loaded now (its identity "
            f"{saved_base['identity'][:12]}, now {model.base_model_identity[:12]}: other weights or tokenizer); load "
            "it with allow_base_model_change=True (gigpo-eval --allow-base-model-change) to use this one anyway"
        )
    checkpoint.check_tensors(path, model.policy.state_dict(), archive.policy)
    checkpoint.check_counters(path, meta["counters"], meta["episodes"], model._stats_window_size)


def _complete_arguments(path: str | os.PathLike[str], version: int, arguments: dict[str, Any], names: set[str]) -> None:
    """Check that ``arguments`` (a checkpoint's, with the caller's changes) set every constructor and policy
    argument: a missing one is an error, not this code's default (a resumed GRPO run must not train GiGPO). A
    version-1 file may lack only the settings added since, which every run before them used at one value."""
    if version == 1:
        for name, value in _ADDED_ARGUMENTS.items():
            arguments.setdefault(name, value)
        if isinstance(arguments.get("policy_kwargs"), dict):
            arguments["policy_kwargs"] = {**_ADDED_POLICY_ARGUMENTS, **arguments["policy_kwargs"]}
    missing = sorted(names - set(arguments))
    policy_kwargs = arguments.get("policy_kwargs")
    if not isinstance(policy_kwargs, dict):
        raise checkpoint.CheckpointError(f"{path}: policy_kwargs must be an object, got {shown(policy_kwargs)}")
    policy_names = {*POLICY_FIELDS, "score_chunk"}
    missing += [f"policy_kwargs.{name}" for name in sorted(policy_names - set(policy_kwargs))]
    unknown = sorted(set(policy_kwargs) - policy_names)
    if unknown:
        raise checkpoint.CheckpointError(f"{path}: the checkpoint has unknown policy settings {unknown}")
    if missing:
        raise checkpoint.CheckpointError(
            f"{path}: the checkpoint lacks the settings {missing}; settings are never filled from defaults: give "
            "them to GiGPO.load(path, name=value) if you know the run's"
        )


def _explained_variance(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """``1 - Var(targets - predictions) / Var(targets)`` (SB3's): 1 for a perfect critic, 0 for a constant one;
    NaN when the targets do not vary."""
    var = float(targets.double().var(unbiased=False)) if len(targets) else 0.0
    return float("nan") if var == 0 else 1.0 - float((targets - predictions).double().var(unbiased=False)) / var
