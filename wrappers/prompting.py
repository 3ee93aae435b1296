"""The agent prompt of the GiGPO paper's setup: task, recent history, observation, admissible actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gigpo_gym import env_card

__all__ = ["PromptBuilder", "describe_env"]

GENERIC_DESCRIPTION = "a text-based environment"


def describe_env(env_id: str | None) -> str:
    """The prompt's introduction of env ``env_id``: its card's description (a generic one for other envs)."""
    card = env_card(env_id)
    return card.description if card is not None else GENERIC_DESCRIPTION


@dataclass
class PromptBuilder:
    """Builds the text an LLM agent sees at each step.

    Args:
        env_name: how the environment is introduced (see :func:`describe_env`).
        history_length: how many past (observation, action) pairs are shown (paper: 2).
    """

    env_name: str = field(default_factory=lambda: describe_env("ALFWorld-text-v0"))
    history_length: int = 2

    def __post_init__(self) -> None:
        if self.history_length < 0:
            raise ValueError(f"history_length must be >= 0, got {self.history_length}")

    def build(
        self,
        task: str,
        history: Sequence[tuple[str, str]],
        observation: str,
        admissible: Sequence[str],
        history_length: int | None = None,
    ) -> str:
        """The user message for one step; ``history`` holds all past (observation, action) pairs.

        ``history_length`` overrides the builder's for this message (a prompt that must be shortened).
        """
        parts = [f"You are an agent acting in {self.env_name}. Your task is to: {task}"]
        shown = self.history_length if history_length is None else history_length
        recent = list(history)[-shown:] if shown else []
        if recent:
            lines = [f"Observation: {obs}\nAction: {act}" for obs, act in recent]
            parts.append(
                f"You have taken {len(history)} step(s) so far. The last {len(recent)} were:\n" + "\n".join(lines)
            )
        parts.append(f"Current observation: {observation}")
        parts.append("Admissible actions: [" + ", ".join(f"'{a}'" for a in admissible) + "]")
        parts.append(
            "Think step by step inside <think> </think>, then give exactly one admissible action "
            "inside <action> </action>."
        )
        return "\n\n".join(parts)

    @staticmethod
    def render(tokenizer, message: str) -> str:
        """The prompt string: the tokenizer's chat template with a generation prompt, if it has one."""
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
            )
        return message + "\n"
