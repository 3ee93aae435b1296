"""WebShop's purchase reward (``web_agent_site/engine/goal.py``), re-implemented.

reward = r_type * (n_attributes_matched + n_options_matched + [price <= price_upper])
                / (n_goal_attributes + n_goal_options + 1)

- attribute match: token-set ratio > 85 against one of the product's attributes, else the goal
  attribute is a substring of the title, bullet points or description;
- option match (counted per *purchased* option, as the original does): colours normalised to
  their colour word; ``size`` options must equal a goal option, other options need a token-set
  ratio > 85; else the value is a substring of the title, bullet points or description; the count
  is capped at the number of goal options (the original's can exceed it and push the reward above 1);
- r_type: 1.0 when the product type (``query``) matches, two levels of the category path match
  or more than 20% of the goal title's nouns occur in the purchased title; else 0.5; then 0.1
  when that noun score is below 0.1 and 0.0 when it is 0.

Simplification: the original finds title nouns with spaCy's ``en_core_web_lg`` part-of-speech
tagger, which is not on PyPI. Here the "nouns" of a title are its alphabetic words that are not
English stop words or common descriptive adjectives (:func:`title_nouns`), so ``title_score`` can
differ from the original's on real titles; ``query`` and category matches, which decide r_type
for products of the goal's type, are exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from .catalog import Goal, Product

__all__ = [
    "attribute_matches",
    "normalize_color",
    "option_matches",
    "purchase_reward",
    "r_type_from",
    "title_nouns",
    "total_reward",
    "type_reward",
]

EXACT_MATCH_OPTIONS = ("size",)
# multi-word and more specific colours first: the first colour found in a value names it
_COLOR_WORDS = (
    "rose gold", "navy blue", "light blue", "dark blue", "sky blue", "light grey", "dark grey", "light gray",
    "dark gray", "off white", "light pink", "hot pink", "dark brown", "light brown", "army green",
    "dark green", "light green", "wine red", "beige", "black", "blue", "bronze", "brown", "burgundy", "coffee",
    "cream", "gold", "gray", "green", "grey", "ivory", "khaki", "multicolor", "navy", "orange", "pink",
    "purple", "red", "silver", "tan", "teal", "white", "yellow",
)  # fmt: skip
_STOP_WORDS = frozenset(
    "a an and are as at be but by for from if in into is it no not of on or such that the their then there "
    "these they this to was will with w set pack count inch inches oz ounce ounces fl piece pieces".split()
)
_ADJECTIVES = frozenset(
    "new best high low free easy long short large small big mini natural organic premium modern classic "
    "portable wireless soft hard light dark heavy durable professional luxury cute fashion casual comfortable "
    "adjustable compatible extra super ultra waterproof fast slim multi full".split()
)


def normalize_color(value: str) -> str:
    """The colour word a value names (``"z2-pink"`` -> ``"pink"``), else the value itself."""
    for color in _COLOR_WORDS:
        if color in value:
            return color
    return value


def title_nouns(title: str) -> list[str]:
    """The title's alphabetic words minus stop words and common adjectives (stand-in for spaCy nouns)."""
    return [w for w in re.findall(r"[a-z]+", title.lower()) if w not in _STOP_WORDS and w not in _ADJECTIVES]


def type_reward(product: Product, goal: Goal) -> dict[str, Any]:
    """``r_type`` and its parts: ``query_match``, ``category_match``, ``title_score``."""
    query_match = product.query == goal.query
    levels = {x.strip() for x in product.product_category.split("›")}
    goal_levels = {x.strip() for x in goal.product_category.split("›")}
    category_match = len(levels & goal_levels) >= 2
    desired = title_nouns(goal.name)
    title_score = 0.2 if not desired else len(set(title_nouns(product.title)) & set(desired)) / len(desired)
    return {
        "r_type": r_type_from(query_match, category_match, title_score),
        "query_match": query_match,
        "category_match": category_match,
        "title_score": title_score,
    }


def r_type_from(query_match: bool, category_match: bool, title_score: float) -> float:
    """WebShop's r_type rule from its three parts."""
    r_type = 1.0 if (query_match or category_match or title_score > 0.2) else 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type


def _in_text(value: str, product: Product) -> bool:
    return (
        value in product.title.lower()
        or value in " ".join(product.bullet_points).lower()
        or value in product.description.lower()
    )


def attribute_matches(product: Product, goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzy attribute match, else found in its text)."""
    matched = 0
    for goal_attribute in goal_attributes:
        if any(fuzz.token_set_ratio(a, goal_attribute) > 85 for a in product.attributes) or _in_text(
            goal_attribute, product
        ):
            matched += 1
    return matched


def option_matches(product: Product, goal_options: Sequence[str], chosen: Mapping[str, str]) -> int:
    """How many chosen options match a goal option (exact for size, fuzzy otherwise, else found in text)."""
    goal_values = [normalize_color(o) for o in goal_options]
    matched = 0
    for group, raw in chosen.items():
        value = normalize_color(raw)
        if group.lower() in EXACT_MATCH_OPTIONS:
            hit = value in goal_values
        else:
            hit = any(fuzz.token_set_ratio(g, value) > 85 for g in goal_values)
        if hit or _in_text(value, product):
            matched += 1
    return matched


def total_reward(r_type: float, n_attributes: int, n_options: int, attribute_hits: int, option_hits: int,
                 price_ok: bool) -> float:  # fmt: skip
    """The combination rule: ``r_type * (hits + [price ok]) / (n_attributes + n_options + 1)``."""
    return r_type * (attribute_hits + option_hits + float(price_ok)) / (n_attributes + n_options + 1)


def purchase_reward(product: Product, goal: Goal, chosen: Mapping[str, str]) -> tuple[float, dict[str, Any]]:
    """Reward of buying ``product`` with options ``chosen`` ({group: value}) for ``goal``, and its parts.

    The parts are WebShop's ``reward_info``: r_type, query_match, category_match, title_score,
    r_att, r_option (when the goal has options) and r_price.
    """
    info = type_reward(product, goal)
    attribute_hits = attribute_matches(product, goal.attributes)
    # capped: the original counts every matching *chosen* option, which can exceed the goal's count
    option_hits = min(option_matches(product, goal.goal_options, chosen), len(goal.goal_options))
    price_ok = product.price <= goal.price_upper
    info["r_att"] = attribute_hits / len(goal.attributes) if goal.attributes else 0.0
    if goal.goal_options:
        info["r_option"] = option_hits / len(goal.goal_options)
    info["r_price"] = price_ok
    reward = total_reward(
        info["r_type"], len(goal.attributes), len(goal.goal_options), attribute_hits, option_hits, price_ok
    )
    return reward, info
