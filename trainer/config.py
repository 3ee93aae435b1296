"""The training configuration: one typed dataclass with help text, presets, YAML files and ``key=value`` overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import logging
import math
import numbers
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wrappers.actions import VALIDITY_RULES

from .buffer import ANCHORS, EPISODE_STATS, ESTIMATORS, NORMS, PENALTY_MODES
from .errors import ConfigError, one_line, shown

__all__ = [
    "ACTION_MODES",
    "ATTN_IMPLEMENTATIONS",
    "DTYPES",
    "PRESETS",
    "SCORE_REDUCTIONS",
    "SHARDINGS",
    "LORA_FIELDS",
    "ConfigError",
    "TrainConfig",
    "check_device",
    "check_ignored_settings",
    "check_values",
    "load_yaml",
    "one_line",
    "resolve_config",
]

# the policy's allowed values, defined here (importing the policy loads transformers) and imported by it
ACTION_MODES = ("score", "generate")
SCORE_REDUCTIONS = ("mean", "sum")
DTYPES = ("float32", "bfloat16", "float16")
ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flex_attention")
SHARDINGS = ("none", "fsdp")
LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")  # act only with use_lora
MAX_EPISODE_STEPS = 10_000


def _opt(default: Any, help: str, choices: tuple | None = None) -> Any:  # noqa: A002 - "help" reads best below
    # the metadata is what HfArgumentParser passes to add_argument: the command line gets the help and the choices
    metadata = {"help": help} if choices is None else {"help": help, "choices": choices}
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything ``gigpo-train`` needs; ``gigpo-train --help-config`` prints each field with its help."""

    env: str = _opt(
        "ALFWorld-text-v0",
        "registered env id, or 'pkg.module:Name-v0' for your own (the module is imported, as gym.make does)",
    )
    env_kwargs: dict = _opt({}, "gym.make keyword arguments of the training env (split, task_types ...)")
    max_episode_steps: int = _opt(50, "episode step limit (paper: ALFWorld 50, WebShop 15)")
    algo: str = _opt(
        "gigpo",
        "advantage estimator: gigpo, grpo, rloo, ppo (a learned critic, GAE) or gigpo-permuted (a control: GiGPO "
        "with anchor keys permuted within each episode group)",
        ESTIMATORS,
    )
    model: str = _opt("tiny", "Hugging Face model id or local path; 'tiny' builds the offline tiny model")
    action_mode: str = _opt(
        "score", "'score' (exact softmax policy over the admissible actions) or 'generate' (free text)", ACTION_MODES
    )
    score_reduction: str = _opt(
        "mean", "score mode: a command's score is the 'mean' or 'sum' of its token log-probs", SCORE_REDUCTIONS
    )
    use_lora: bool = _opt(False, "train a LoRA adapter (reference = adapter disabled) instead of all weights")
    lora_r: int = _opt(8, "LoRA rank")
    lora_alpha: int = _opt(16, "LoRA alpha")
    lora_dropout: float = _opt(0.0, "LoRA dropout")
    target_modules: list[str] | None = _opt(
        None, "LoRA target module names (e.g. q_proj v_proj); default: PEFT's choice for the architecture"
    )
    gradient_checkpointing: bool = _opt(False, "recompute activations in the backward pass (less memory, more time)")
    temperature: float = _opt(
        1.0,
        "sampling temperature of the tokens (generate mode) or of the softmax over the "
        "admissible commands (score mode); log-probs use the same temperature",
    )
    top_p: float = _opt(1.0, "generate mode: nucleus sampling's probability mass (1: the full distribution)")
    max_new_tokens: int = _opt(256, "response length limit (generate mode)")
    max_prompt_tokens: int = _opt(2048, "prompt length limit; longer prompts drop their oldest history first")
    dtype: str = _opt(
        "float32",
        "weights of the policy and its reference: float32, bfloat16 or float16 (float16 "
        "needs CUDA); log-probs and the loss stay float32",
        DTYPES,
    )
    attn_implementation: str | None = _opt(
        None,
        "attention kernel for from_pretrained: eager, sdpa, "
        "flash_attention_2 or flex_attention; default: transformers' choice",
        (*ATTN_IMPLEMENTATIONS, None),
    )
    rounds: int = _opt(8, "rollout rounds; each round is followed by one update")
    n_groups: int = _opt(4, "tasks per round")
    group_size: int = _opt(4, "trajectories per task (paper: 8)")
    learning_rate: float = _opt(1e-3, "optimiser learning rate (paper: 1e-6 for full fine-tuning of 1.5B/7B)")
    gamma: float = _opt(0.95, "discount of the step-level return-to-go (paper: 0.95)")
    omega: float = _opt(1.0, "weight of the step advantage (paper: 1)")
    norm: str | None = _opt(
        None, "advantage normalisation 'std' or 'mean'; default: std for grpo, else mean", (*NORMS, None)
    )
    episode_stats: str = _opt(
        "trajectory",
        "episode statistics over 'trajectory' (paper formula) or 'step' rows (reference code)",
        EPISODE_STATS,
    )
    anchor: str = _opt(
        "state_hash", "GiGPO's anchor key: 'state_hash' or 'observation' (the reference's text)", ANCHORS
    )
    history_length: int = _opt(2, "past (observation, action) pairs in the prompt (paper: 2)")
    success_reward: float | None = _opt(
        None,
        "reward of a completed task (ALFWorld) or perfect purchase (WebShop reward_mode=success); paper: 10; "
        "null: the env's own (1); only for envs whose constructor takes it",
    )
    invalid_action_penalty: float = _opt(-0.1, "penalty of an invalid response (paper: -0.1 against success 10)")
    penalty_mode: str = _opt(
        "row",
        "'row': the penalty lowers only the invalid row, after the returns (reference); "
        "'reward': added to the step reward",
        PENALTY_MODES,
    )
    validity_rule: str = _opt(
        "admissible",
        "generate mode: a response is valid if its action is 'admissible' or "
        "if it is well 'format'ted (<think> and <action>, the reference)",
        VALIDITY_RULES,
    )
    n_epochs: int = _opt(1, "passes over each round's steps")
    batch_size: int = _opt(64, "steps per optimiser update")
    micro_batch_size: int = _opt(16, "steps per forward/backward pass (gradient accumulation)")
    clip_range: float = _opt(0.2, "PPO clip epsilon (paper: 0.2)")
    clip_ratio_c: float = _opt(3.0, "dual-clip bound for negative advantages (reference: 3)")
    filter_groups: bool = _opt(False, "train only on groups with a non-zero advantage (DAPO-style)")
    kl_coef: float = _opt(0.01, "KL penalty coefficient (paper: 0.01)")
    ent_coef: float = _opt(0.0, "entropy bonus coefficient")
    max_grad_norm: float = _opt(1.0, "gradient clipping norm")
    gae_lambda: float = _opt(0.95, "ppo: GAE lambda (1: Monte-Carlo return minus the value)")
    vf_coef: float = _opt(0.5, "ppo: weight of the value loss")
    clip_range_vf: float | None = _opt(
        0.5,
        "ppo: clip of the value prediction's change per round, in reward units "
        "(verl's cliprange_value); null: unclipped value loss",
    )
    eval_split: str | None = _opt(
        None,
        "split evaluated at the end (ALFWorld valid_seen/valid_unseen, WebShop test); null: the env card's "
        "(ALFWorld valid_seen, WebShop test; none for an env that takes no split)",
    )
    eval_tasks: int = _opt(140, "evaluate the first N tasks of the eval split")
    eval_episodes: int = _opt(1, "sampled episodes per evaluation task")
    eval_every: int = _opt(
        0,
        "also evaluate the eval split every N rounds (after the round's update), logged as eval/* in progress.csv "
        "and TensorBoard and drawn in learning_curve.png; 0: only the final evaluation",
    )
    checkpoint_every: int = _opt(1, "save the checkpoint every N rounds")
    seed: int = _opt(0, "seed of tasks, sampling and initialisation")
    init_seed: int | None = _opt(
        None,
        "seed of the initial weights of the random-weight models 'tiny' and 'tiny-qwen2.5' (one cached model per "
        "seed); null: the run's seed, so that seeds vary the initialisation too",
    )
    device: str = _opt("cpu", "torch device: cpu, cuda or auto")
    sharding: str = _opt(
        "none",
        "data-parallel runs: 'fsdp' shards the optimiser state and the reduced gradients over the processes "
        "(FSDP2; the weights are gathered for the round; an accelerate FSDP launch config sets it), 'none' keeps a "
        "full copy of everything on each (DDP)",
        SHARDINGS,
    )

    def __post_init__(self) -> None:
        if self.eval_split is None:
            # the env's card names its evaluation split; an env that cannot be found keeps None, and validate()
            # says why
            import gigpo_gym

            with contextlib.suppress(ValueError):
                card = gigpo_gym.env_card(self.env)
                self.eval_split = card.eval_split if card is not None else None

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first value that cannot work."""
        import gigpo_gym

        try:
            gigpo_gym.env_spec(self.env)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        # an argument the env's constructor does not take is an error, not dropped: the setting would do nothing
        for name, argument, value in (
            ("success_reward", "success_reward", self.success_reward),
            ("eval_split", "split", self.eval_split),
        ):
            if value is not None and not gigpo_gym.env_takes(self.env, argument):
                raise ConfigError(
                    f"{name} is {value!r}, but env {self.env!r} takes no {argument!r} argument; leave {name} unset "
                    "(null)"
                )
        check_values(self.to_dict())
        from .models.presets import TINY_PRESETS  # imported here: the model zoo loads torch

        if self.init_seed is not None and self.model not in TINY_PRESETS:
            raise ConfigError(
                f"init_seed applies to the random-weight models {', '.join(TINY_PRESETS)} only, not to model "
                f"{self.model!r}, which has its own weights (got init_seed={self.init_seed}; leave it null)"
            )
        if self.micro_batch_size > self.batch_size:
            raise ConfigError(
                f"micro_batch_size ({self.micro_batch_size}) must not exceed batch_size ({self.batch_size})"
            )
        check_device(self.device)
        from .distributed import world_size

        world = world_size()  # a launcher's process count (torchrun, accelerate launch)
        if self.n_groups % world:
            raise ConfigError(
                f"n_groups ({self.n_groups}) must be divisible by the number of processes ({world}): "
                "each process rolls out an equal share of the round's groups"
            )
        if self.dtype == "float16" and not _uses_cuda(self.device):
            raise ConfigError(f"dtype float16 needs CUDA (device {self.device!r} runs on the CPU); use bfloat16 there")
        check_ignored_settings(self.to_dict())  # its warnings are logged when the model is built (GiGPO)

    def gym_kwargs(self, split: str | None = None) -> dict[str, Any]:
        """``gym.make`` keyword arguments of the env: ``env_kwargs``, the step limit, and the success reward and
        ``split`` where they are set (an env that does not take them gets neither; :meth:`validate`)."""
        kwargs = {**self.env_kwargs, "max_episode_steps": self.max_episode_steps}
        if self.success_reward is not None:
            kwargs["success_reward"] = self.success_reward
        return kwargs if split is None else {**kwargs, "split": split}

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what ``config.yaml`` holds)."""
        return dataclasses.asdict(self)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _at_least(bound: float) -> Any:
    return lambda v: v >= bound


def _above(bound: float) -> Any:
    return lambda v: v > bound


def _any(v: float) -> bool:
    return True


# name: (lower test, upper test, what is allowed) for every numeric field; every value must also be finite
_BOUNDS: dict[str, tuple[Any, Any, str]] = {
    **{
        name: (_at_least(1), _any, "an integer >= 1")
        for name in (
            "rounds",
            "n_groups",
            "eval_tasks",
            "eval_episodes",
            "checkpoint_every",
            "n_epochs",
            "batch_size",
            "micro_batch_size",
            "max_new_tokens",
            "lora_r",
            "lora_alpha",
        )
    },
    # a bound, so that a config (or a checkpoint's) cannot make an episode without end; the paper's are 50 and 15
    "max_episode_steps": (_at_least(1), lambda v: v <= MAX_EPISODE_STEPS, f"an integer in [1, {MAX_EPISODE_STEPS}]"),
    "group_size": (_at_least(2), _any, "an integer >= 2 (group-relative advantages)"),
    "history_length": (_at_least(0), _any, "an integer >= 0"),
    "eval_every": (_at_least(0), _any, "an integer >= 0 (0: only the final evaluation)"),
    "seed": (_at_least(0), lambda v: v < 2**32, "an integer in [0, 2**32)"),  # what NumPy's seeding takes
    "init_seed": (_at_least(0), lambda v: v < 2**32, "an integer in [0, 2**32) or null"),
    "max_prompt_tokens": (_at_least(16), _any, "an integer >= 16"),
    "learning_rate": (_above(0), _any, "a number > 0"),
    "gamma": (_at_least(0), lambda v: v <= 1, "a number in [0, 1]"),
    "omega": (_at_least(0), _any, "a number >= 0"),
    "temperature": (_above(0), _any, "a number > 0"),
    "top_p": (_above(0), lambda v: v <= 1, "a number in (0, 1]"),
    "lora_dropout": (_at_least(0), lambda v: v < 1, "a number in [0, 1)"),
    "clip_range": (_above(0), lambda v: v < 1, "a number in (0, 1)"),
    "clip_ratio_c": (_above(1), _any, "a number > 1"),
    "kl_coef": (_at_least(0), _any, "a number >= 0"),
    "ent_coef": (_at_least(0), _any, "a number >= 0"),
    "max_grad_norm": (_above(0), _any, "a number > 0"),
    "gae_lambda": (_at_least(0), lambda v: v <= 1, "a number in [0, 1]"),
    "vf_coef": (_at_least(0), _any, "a number >= 0"),
    "clip_range_vf": (_above(0), _any, "a number > 0 or null"),
    "success_reward": (_above(0), _any, "a number > 0 or null"),
    "invalid_action_penalty": (_any, lambda v: v <= 0, "a number <= 0 (a penalty)"),
}
_OPTIONAL = ("clip_range_vf", "init_seed", "success_reward")  # numeric fields where null is allowed


@dataclass(frozen=True)
class _OnlyWhen:
    """Settings that act only when ``applies(settings)`` holds: ``where`` says when, ``why`` (optional) why not."""

    names: tuple[str, ...]
    applies: Callable[[Mapping[str, Any]], bool]
    where: str
    why: str = ""
    # a warning, not an error, where a preset's bundle can leave the setting behind legitimately: a preset's own
    # value stays when its estimator or action mode is changed (--preset cpu-quickstart --algo ppo keeps norm std)
    warn: bool = False


def _generate(s: Mapping[str, Any]) -> bool:
    return s["action_mode"] == "generate"


_GROUP = "with algo 'gigpo', 'grpo' or 'rloo'"
# every setting that another setting can make do nothing (the audit of TrainConfig's, GiGPO's and LLMPolicy's)
_ONLY_WHEN = (
    _OnlyWhen(
        ("lora_r", "lora_alpha", "lora_dropout", "target_modules"),
        lambda s: s["use_lora"],
        "with use_lora=True",
        "without LoRA every weight trains, beside a frozen reference copy",
    ),
    _OnlyWhen(("omega", "anchor"), lambda s: s["algo"] == "gigpo", "with algo 'gigpo'", "GiGPO's step advantage"),
    _OnlyWhen(
        ("gamma",),
        lambda s: s["algo"] in ("gigpo", "ppo"),
        "with algo 'gigpo' or 'ppo'",
        "grpo and rloo compare undiscounted episode returns",
    ),
    _OnlyWhen(("norm",), lambda s: s["algo"] in ("gigpo", "grpo"), "with algo 'gigpo' or 'grpo'", warn=True),
    _OnlyWhen(("episode_stats",), lambda s: s["algo"] != "ppo", _GROUP, "PPO's advantages are GAE's", warn=True),
    _OnlyWhen(("filter_groups",), lambda s: s["algo"] != "ppo", _GROUP, "PPO's whitened advantages are never all zero"),
    _OnlyWhen(
        ("gae_lambda", "vf_coef", "clip_range_vf", "normalize_advantage"),
        lambda s: s["algo"] == "ppo",
        "with algo 'ppo'",
        "the learned critic's settings",
    ),
    _OnlyWhen(
        ("top_p",), _generate, "with action_mode 'generate'", "score mode samples a softmax over the admissible actions"
    ),
    _OnlyWhen(
        ("invalid_action_penalty",),
        _generate,
        "with action_mode 'generate'",
        "score mode only picks admissible actions, never an invalid one",
    ),
    _OnlyWhen(("max_new_tokens", "validity_rule"), _generate, "with action_mode 'generate'", warn=True),
    _OnlyWhen(
        ("penalty_mode",),
        lambda s: _generate(s) and s["algo"] != "ppo",
        "with action_mode 'generate' and algo 'gigpo', 'grpo' or 'rloo'",
        "score mode never acts invalidly; PPO adds the penalty to the step reward",
    ),
    _OnlyWhen(("score_reduction", "score_chunk"), lambda s: s["action_mode"] == "score", "with action_mode 'score'"),
)
# GiGPO's and LLMPolicy's names for config fields, and their arguments that are not config fields (and defaults)
_ALIASES = {"estimator": "algo", "model_name_or_path": "model"}
_API_DEFAULTS = {"normalize_advantage": True, "score_chunk": 16}
_log = logging.getLogger("trainer")


def check_ignored_settings(settings: Mapping[str, Any], warn: bool = False) -> list[str]:
    """Refuse a setting that would silently do nothing, and say which ones a preset legitimately leaves behind.

    A setting counts as set when its value differs from its default (:class:`TrainConfig`'s, which GiGPO and
    LLMPolicy share), the one rule the config, the command line and the Python API can all apply: a file or preset
    giving a default value changes nothing. ``settings`` maps config field names, or GiGPO's and LLMPolicy's names
    (``estimator``, ``model_name_or_path``, ``normalize_advantage``, ``score_chunk``), to values; missing ones are
    at their defaults, other keys are not looked at.

    Raises :class:`ConfigError` (one line: the field, its value, when it acts) for the first setting that has no
    effect: LoRA settings without ``use_lora``, an estimator's or a mode's settings with another, and the
    random-weight ``tiny`` models in generate mode (they never write a valid ``<action>``: nothing to learn from).
    Returns, and with ``warn`` logs (logger ``trainer``), the warnings: a preset's settings left behind by another
    estimator or mode (``norm``, ``episode_stats``, ``max_new_tokens``, ``validity_rule``), ``sharding='fsdp'`` in
    one process.
    """
    defaults = {**TrainConfig().to_dict(), **_API_DEFAULTS}
    given = {_ALIASES.get(name, name): value for name, value in settings.items()}
    values = {**defaults, **{name: value for name, value in given.items() if name in defaults}}
    from .models.presets import TINY_PRESETS  # imported here: the model zoo loads torch

    if values["model"] in TINY_PRESETS and values["action_mode"] == "generate":
        raise ConfigError(
            f"model {values['model']!r} has random weights and never writes a valid <action> in action_mode "
            "'generate' (no signal to learn from); use action_mode 'score', or a pretrained model such as "
            "'smollm2-135m-instruct'"
        )
    warnings = []
    for rule in _ONLY_WHEN:
        if rule.applies(values):
            continue
        for name in rule.names:
            if values[name] != defaults[name]:
                why = f" ({rule.why})" if rule.why else ""
                message = (
                    f"{name}={values[name]!r} has no effect: it acts only {rule.where}{why}; "
                    f"change that or leave {name} at its default {defaults[name]!r}"
                )
                if not rule.warn:
                    raise ConfigError(message)
                warnings.append(message)
    if values["sharding"] == "fsdp":
        from .distributed import world_size

        if world_size() == 1:
            warnings.append(
                "sharding='fsdp' has no effect in a single process: it shards over the processes of a "
                "torchrun or accelerate launch"
            )
    for message in warnings if warn else ():
        _log.warning(message)
    return warnings


def check_values(values: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> None:
    """Each value's own check, for any subset of the config's fields: one of the field's allowed choices, and within
    its bounds (finite). :meth:`TrainConfig.validate` applies it to a whole config and ``GiGPO(...)`` to the arguments
    it is given, so the Python API refuses what the config refuses. Raises :class:`ConfigError` naming the first
    field that fails (by its name in ``labels``, e.g. the Python API's ``estimator`` for ``algo``), its value and
    what is allowed."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name, value in values.items():
        label = (labels or {}).get(name, name)
        allowed = fields[name].metadata.get("choices")
        if allowed is not None and value not in allowed:
            raise ConfigError(f"{label} must be one of {', '.join(map(str, allowed))}, got {shown(value)}")
        if name not in _BOUNDS or (value is None and name in _OPTIONAL):
            continue
        low, high, text = _BOUNDS[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (_finite(value) and low(value) and high(value))
        ):
            raise ConfigError(f"{label} must be {text}, got {shown(value)}")


def _uses_cuda(device: str) -> bool:
    import torch

    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


def check_device(device: str) -> None:
    """``cpu``, ``auto`` or a torch device that exists here: asking for CUDA without it is an error, not CPU."""
    if device == "auto":
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"device must be cpu, cuda, cuda:N or auto, got {device!r}") from error
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but CUDA is not available here (use cpu or auto)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type != "cpu":
        raise ConfigError(f"device must be cpu, cuda, cuda:N or auto, got {device!r}")


# a config file is a few hundred bytes and a few dozen values: these bounds refuse a file that would take memory or
# time out of proportion (anchors and aliases repeat a node without copying its text: 449 bytes can stand for
# billions of values)
YAML_MAX_BYTES = 64 << 10
YAML_MAX_NODES = 10_000
# libyaml's parser where PyYAML has it (it reads deep nesting in microseconds; the pure-Python one takes seconds)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_INT = 2**63  # every integer setting is below it (torch and NumPy take no larger ones)


def load_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load(text)`` within bounds: at most :data:`YAML_MAX_BYTES` characters and
    :data:`YAML_MAX_NODES` values counted with every alias expanded, no recursive alias; every problem is one
    :class:`ConfigError` naming ``what`` (a file, ``--set key=value``) whose text stays short."""
    if len(text) > YAML_MAX_BYTES:
        raise ConfigError(f"{what} holds {len(text):,} characters; a config is at most {YAML_MAX_BYTES:,}")
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_size(node, what)
        return loader.construct_document(node)
    except ConfigError:
        raise
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} is not valid YAML: {shown(one_line(error), 300, quote=False)}") from error
    except ValueError as error:  # an integer of more digits than Python converts (4,300)
        raise ConfigError(f"{what}: a value cannot be read ({shown(one_line(error), 300, quote=False)})") from error
    except RecursionError as error:
        raise ConfigError(f"{what} is nested too deeply to be a config") from error
    finally:
        loader.dispose()


def _check_yaml_size(root: yaml.Node, what: str) -> None:
    """Refuse a node graph of more than :data:`YAML_MAX_NODES` nodes once its aliases are expanded, or a cycle.

    Sizes are counted on the graph (an aliased node's size once, however often it is repeated), without
    expanding anything, depth-first without recursion."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > YAML_MAX_NODES:
                raise ConfigError(
                    f"{what} stands for more than {YAML_MAX_NODES:,} values once its YAML aliases are expanded; a "
                    "config holds a few dozen"
                )
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise ConfigError(f"{what} holds a recursive YAML alias (a value that contains itself)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


# the paper's setups as its reference code runs them (verl-agent examples/gigpo_trainer/run_*.sh): success reward
# 10, the invalid-action penalty on the invalid row after the returns, the format validity rule, episode statistics
# over rows, dual clip 3, prompts up to 2,048 tokens; normalisation std on ALFWorld (mean_std_norm), the estimator's
# default on WebShop (GiGPO mean_norm, GRPO std)
_PAPER = dict(
    action_mode="generate",
    use_lora=False,
    learning_rate=1e-6,
    n_groups=16,
    group_size=8,
    history_length=2,
    gamma=0.95,
    omega=1.0,
    kl_coef=0.01,
    clip_range=0.2,
    batch_size=256,
    micro_batch_size=8,
    temperature=1.0,
    device="auto",
    success_reward=10.0,
    invalid_action_penalty=-0.1,
    penalty_mode="row",
    validity_rule="format",
    episode_stats="step",
    clip_ratio_c=3.0,
    max_prompt_tokens=2048,
)
PRESETS: dict[str, dict[str, Any]] = {
    # CPU, a few minutes, no download: the offline tiny model on pick-and-place tasks in 3-receptacle rooms, where a
    # random policy succeeds 11% of the time (in full-size rooms 0.6%: almost no signal to learn from). lr 3e-3 with
    # one epoch over 20 rounds won the score-mode sweep on a tuning seed (benchmarks/RESULTS.md, "tuning"); std
    # normalisation (the reference's ALFWorld GiGPO setting) won the candidates sweep on tuning seeds 100-102
    # under a rule declared before its runs ("tuning_candidates")
    "cpu-quickstart": dict(
        env="ALFWorld-text-v0",
        env_kwargs={"task_types": ["pick_and_place_simple"], "max_receptacles": 3},
        model="tiny",
        rounds=20,
        max_episode_steps=30,
        group_size=8,
        n_epochs=1,
        learning_rate=3e-3,
        eval_tasks=35,
        eval_episodes=4,
        eval_every=5,  # held-out points on the learning curve at rounds 5, 10, 15 and 20 (the last is the final one)
        norm="std",
    ),
    # lr 1e-2 with one epoch over 20 rounds: the best score of a 3-lr sweep on tuning seed 100 (RESULTS, "tuning")
    "cpu-webshop": dict(
        env="WebShop-text-v0",
        env_kwargs={"split": "train"},
        model="tiny",
        rounds=20,
        max_episode_steps=15,
        eval_split="test",
        eval_tasks=50,
        eval_every=5,
        history_length=1,
        n_epochs=1,
        learning_rate=1e-2,
    ),
    # the paper's setups (GPU): Qwen2.5-Instruct, group size 8, 16 groups, gamma 0.95, omega 1
    "alfworld-qwen2.5-1.5b": dict(
        _PAPER,
        env="ALFWorld-text-v0",
        model="Qwen/Qwen2.5-1.5B-Instruct",
        norm="std",
        max_episode_steps=50,
        max_new_tokens=512,
        rounds=150,
        eval_split="valid_unseen",
        eval_tasks=134,
    ),
    "alfworld-qwen2.5-7b": dict(
        _PAPER,
        env="ALFWorld-text-v0",
        model="Qwen/Qwen2.5-7B-Instruct",
        norm="std",
        max_episode_steps=50,
        max_new_tokens=512,
        rounds=150,
        eval_split="valid_unseen",
        eval_tasks=134,
    ),
    "webshop-qwen2.5-1.5b": dict(
        _PAPER,
        env="WebShop-text-v0",
        model="Qwen/Qwen2.5-1.5B-Instruct",
        max_episode_steps=15,
        max_new_tokens=512,
        rounds=150,
        eval_split="test",
        eval_tasks=500,
        env_kwargs={"split": "train", "reward_mode": "success"},
    ),
    "webshop-qwen2.5-7b": dict(
        _PAPER,
        env="WebShop-text-v0",
        model="Qwen/Qwen2.5-7B-Instruct",
        max_episode_steps=15,
        max_new_tokens=512,
        rounds=150,
        eval_split="test",
        eval_tasks=500,
        env_kwargs={"split": "train", "reward_mode": "success"},
    ),
}


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[operator]


@functools.cache
def field_types() -> dict[str, Any]:
    """Each field's resolved type (the dataclass's annotations are strings under ``from __future__``)."""
    return typing.get_type_hints(TrainConfig)


def type_name(name: str) -> str:
    """Field ``name``'s type as it is written in the dataclass (``float | None``, ``list[str] | None``)."""
    return str(field_types()[name]).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _coerce(name: str, value: Any) -> Any:
    """Check a value against the field's type; ints (and numeric text) become floats where a float is expected."""
    expected = field_types()[name]
    optional = type(None) in typing.get_args(expected)
    kind = next(t for t in typing.get_args(expected) if t is not type(None)) if optional else expected
    if value is None and optional:
        return None
    if kind in (int, float) and isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _MAX_INT:
        raise ConfigError(f"{name} must be a number below 2**63 in size, got {shown(value)}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):
        # YAML 1.1 reads 1e-6 (no dot) as a string: take any text Python reads as a number
        try:
            return float(value)
        except ValueError:
            pass
    origin = typing.get_origin(kind) or kind
    items = typing.get_args(kind)
    wrong = (kind is int and isinstance(value, bool)) or not isinstance(value, origin)
    if not wrong and origin is list and items:
        wrong = not all(isinstance(item, items[0]) for item in value)
    if wrong:
        raise ConfigError(f"{name} must be of type {type_name(name)}, got {shown(value)}")
    return value


def _apply(values: dict[str, Any], updates: dict[str, Any], source: str) -> None:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    for key, value in updates.items():
        if key not in names:
            # a suggestion only for a key that could be a typo (comparing a long one would take a while)
            close = difflib.get_close_matches(key, names, n=1) if isinstance(key, str) and len(key) < 100 else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {shown(key)} in {source}{hint}")
        values[key] = _coerce(key, value)


def resolve_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    **fields: Any,
) -> TrainConfig:
    """Defaults < preset < YAML file < ``key=value`` overrides < explicit ``fields``; validated."""
    # the fields' own defaults (TrainConfig() would fill in the default env's eval split before the env is chosen)
    values: dict[str, Any] = {f.name: _default(f) for f in dataclasses.fields(TrainConfig)}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        _apply(values, PRESETS[preset], f"preset {preset!r}")
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        with open(path, "rb") as file:
            raw_file = file.read(YAML_MAX_BYTES + 1)  # no more than the bound, however large the file
        try:
            text = raw_file.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"config file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from error
        loaded = load_yaml(text, f"config file {path}") or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values")
        _apply(values, loaded, str(path))
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        value = load_yaml(raw, f"--set {shown(item)}: the value")
        _apply(values, {key.strip(): value}, "--set")
    _apply(values, {k: v for k, v in fields.items() if v is not None}, "the command line")
    config = TrainConfig(**values)
    config.validate()
    return config
