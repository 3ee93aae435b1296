"""What ALFWorld-text-v0 says about itself (its :class:`~gigpo_gym.text_env.EnvCard`), shared by both backends."""

from __future__ import annotations

from ..text_env import EnvCard

__all__ = ["ALFWORLD_CARD"]

ALFWORLD_CARD = EnvCard(
    description="a text-based household environment (ALFWorld)",
    eval_split="valid_seen",
    # the paper's table: success % per task type (short names), then over all tasks
    columns=(
        ("pick_and_place_simple", "Pick"),
        ("look_at_obj_in_light", "Look"),
        ("pick_clean_then_place_in_recep", "Clean"),
        ("pick_heat_then_place_in_recep", "Heat"),
        ("pick_cool_then_place_in_recep", "Cool"),
        ("pick_two_obj_and_place", "Pick2"),
        ("all", "All"),
    ),
    sorted_commands=True,
)
