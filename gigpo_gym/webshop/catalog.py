"""WebShop's products and goals: a seeded generated catalog, and a loader for the real data files.

Both sources produce the same two structures, :class:`Product` and :class:`Goal`, carrying the fields
WebShop's engine and reward read (``engine.py`` / ``goal.py`` of princeton-nlp/WebShop):
title, category, product type (``query``), category path, price, attributes, option groups,
description, bullet points and reviews; and for a goal the target asin, instruction, goal
attributes, goal options and price bound.

The generated catalog (:func:`generate_catalog`) is a pure function of its seed: 1,000 products by
default over WebShop's five categories, and goals phrased the way WebShop's instructions are,
with the price bound drawn by WebShop's rule (:func:`price_upper_for`).
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "Catalog",
    "Goal",
    "GoalOption",
    "Product",
    "generate_catalog",
    "load_catalog",
    "price_upper_for",
]

CATEGORIES = ("beauty", "electronics", "fashion", "garden", "grocery")
NO_PRICE_BOUND = 1_000_000.0  # WebShop's price_upper when no bound is stated
GOAL_SHUFFLE_SEED = 233  # WebShop's SimServer shuffles its goal list with random.seed(233)
GOAL_SETS = ("synthetic", "human")
# a goal option: a value ("x-large") or, for WebShop's synthetic goals, a (name, value) pair (("size", "x-large"))
GoalOption = str | tuple[str, str]


@dataclass(frozen=True)
class Product:
    """One catalog entry, with the fields of WebShop's processed product records."""

    asin: str
    title: str
    category: str  # one of CATEGORIES for generated products
    query: str  # the product type ("snack bars"); equal queries give r_type 1
    product_category: str  # "A › B › C" path
    price: float  # the price used for the reward
    price_tag: str  # "$12.99" or "$10.0 to $14.0", as shown on pages
    attributes: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]  # ((group, (value, ...)), ...), lower case
    description: str
    bullet_points: tuple[str, ...]
    reviews: tuple[tuple[str, int, str], ...] = ()  # (title, score 1-5, body)
    rating: str = "N.A."

    @property
    def option_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.options)


@dataclass(frozen=True)
class Goal:
    """One shopping instruction and what a purchase is scored against."""

    asin: str
    instruction_text: str
    attributes: tuple[str, ...]
    goal_options: tuple[GoalOption, ...]  # values, or (name, value) pairs for synthetic goals of the real data
    price_upper: float
    category: str
    query: str
    name: str  # the target's title (r_type compares title nouns)
    product_category: str
    weight: float = 1.0  # WebShop's sampling weight (mean inverse frequency of the goal's attributes)

    @property
    def option_values(self) -> tuple[str, ...]:
        """The goal options' values (the second element of a pair)."""
        return tuple(o if isinstance(o, str) else o[1] for o in self.goal_options)


@dataclass
class Catalog:
    """Products by asin, in a fixed order, and the goals of each split."""

    products: list[Product]
    goals: dict[str, list[Goal]]
    # how title nouns are found for the reward: the generated catalog's titles are made for the stand-in filter
    # (and its rewards must not depend on what is installed); real data uses spaCy where it is installed
    noun_tagger: str = "auto"
    by_asin: dict[str, Product] = field(init=False)

    def __post_init__(self) -> None:
        self.by_asin = {p.asin: p for p in self.products}


def price_upper_for(price: float, rng: random.Random) -> float:
    """WebShop's price bound: of the next four multiples of 10 above ``price``, two are drawn and the larger kept.

    Returns :data:`NO_PRICE_BOUND` when fewer than two multiples (up to 990) lie above the price.
    """
    candidates = [10.0 * i for i in range(1, 100) if 10.0 * i > price][:4]
    if len(candidates) < 2:
        return NO_PRICE_BOUND
    return max(rng.sample(candidates, 2))


# --------------------------------------------------------------------------- vocabulary of the generator

_COLORS = (
    "black",
    "white",
    "grey",
    "navy blue",
    "light blue",
    "red",
    "pink",
    "beige",
    "brown",
    "green",
    "rose gold",
    "dark grey",
    "ivory",
    "purple",
    "yellow",
    "teal",
)
_OPTION_VALUES = {
    "clothing size": ("x-small", "small", "medium", "large", "x-large", "xx-large"),
    "shoe size": ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11"),
    "volume": (
        "2 fl oz (pack of 1)",
        "3.4 fl oz (pack of 1)",
        "6.76 fl oz (pack of 1)",
        "8 fl oz (pack of 2)",
        "16 fl oz (pack of 1)",
    ),
    "count": (
        "12 count (pack of 1)",
        "24 count (pack of 1)",
        "6 count (pack of 4)",
        "1 pound (pack of 1)",
        "2 pound (pack of 1)",
        "8 ounce (pack of 3)",
    ),
    "length": ("12 inch", "16 inch", "18 inch", "20 inch", "24 inch", "30 inch", "36 inch"),
    "pack": ("1 pack", "2 pack", "3 pack", "4 pack", "6 feet", "10 feet"),
    "flavor name": (
        "chocolate",
        "vanilla",
        "peanut butter",
        "strawberry",
        "salted caramel",
        "original",
        "dark chocolate",
        "honey",
        "mint",
        "cinnamon",
    ),
    "scent": ("lavender", "unscented", "coconut", "rose", "eucalyptus", "citrus", "vanilla"),
    "color": _COLORS,
}
# option kind -> the option group name shown on the item page
_GROUP_NAME = {
    "clothing size": "size",
    "shoe size": "size",
    "volume": "size",
    "count": "size",
    "length": "size",
    "pack": "size",
    "flavor name": "flavor name",
    "scent": "scent",
    "color": "color",
}

# category -> (top of the category path, attributes, price range, product types)
# product type: (query, path below the top, title noun, option kinds)
_CATEGORY_SPEC: dict[str, tuple[str, tuple[str, ...], tuple[float, float], tuple[tuple, ...]]] = {
    "beauty": (
        "Beauty & Personal Care",
        (
            "long lasting",
            "paraben free",
            "cruelty free",
            "natural ingredients",
            "sensitive skin",
            "travel size",
            "alcohol free",
            "dry skin",
            "hair growth",
            "damaged hair",
            "dark circles",
            "easy to use",
        ),
        (4.0, 60.0),
        (
            (
                "shampoo & conditioner",
                "Hair Care › Shampoo & Conditioner",
                "Shampoo and Conditioner Set",
                ("volume", "scent"),
            ),
            ("lip balm", "Skin Care › Lip Care › Balms & Moisturizers", "Lip Balm", ("color", "pack")),
            ("face moisturizer", "Skin Care › Face › Creams & Moisturizers", "Face Moisturizer Cream", ("volume",)),
            (
                "hair extensions",
                "Hair Care › Hair Extensions, Wigs & Accessories",
                "Clip in Hair Extensions",
                ("color", "length"),
            ),
            ("nail polish", "Foot, Hand & Nail Care › Nail Polish", "Nail Polish", ("color",)),
            ("eye cream", "Skin Care › Eyes › Creams", "Under Eye Cream", ("volume",)),
            ("body wash", "Personal Care › Bath & Bathing Accessories › Body Washes", "Body Wash", ("scent", "volume")),
            ("makeup brushes", "Tools & Accessories › Makeup Brushes & Tools", "Makeup Brush Set", ("color",)),
        ),
    ),
    "electronics": (
        "Electronics",
        (
            "noise cancelling",
            "fast charging",
            "wireless bluetooth",
            "high definition",
            "easy install",
            "water resistant",
            "long battery life",
            "hands free",
            "plug and play",
            "aluminum alloy",
            "usb port",
            "stereo sound",
        ),
        (8.0, 300.0),
        (
            ("bluetooth headphones", "Headphones › Over-Ear Headphones", "Bluetooth Headphones", ("color",)),
            ("wireless earbuds", "Headphones › Earbud Headphones", "Wireless Earbuds", ("color",)),
            ("portable speakers", "Portable Audio & Video › Portable Speakers", "Portable Speaker", ("color",)),
            ("usb c cables", "Computers & Accessories › Cables › USB Cables", "USB C Cable", ("pack", "color")),
            ("hdmi cables", "Television & Video › Accessories › Cables › HDMI Cables", "HDMI Cable", ("pack",)),
            ("phone cases", "Cell Phones & Accessories › Cases, Holsters & Sleeves", "Phone Case", ("color",)),
            (
                "power banks",
                "Cell Phones & Accessories › Chargers & Power Adapters › Portable Power Banks",
                "Portable Power Bank",
                ("color",),
            ),
            (
                "security cameras",
                "Camera & Photo › Video Surveillance › Surveillance Cameras",
                "Security Camera",
                ("pack",),
            ),
        ),
    ),
    "fashion": (
        "Clothing, Shoes & Jewelry",
        (
            "machine wash",
            "slim fit",
            "button closure",
            "rubber sole",
            "long sleeve",
            "quick drying",
            "moisture wicking",
            "high waist",
            "non slip",
            "daily wear",
            "polyester spandex",
            "memory foam",
        ),
        (10.0, 120.0),
        (
            ("women's dresses", "Women › Clothing › Dresses", "Women's Dress", ("clothing size", "color")),
            ("men's running shoes", "Men › Shoes › Athletic › Running", "Men's Running Shoes", ("shoe size", "color")),
            ("women's pumps", "Women › Shoes › Pumps", "Women's Pumps", ("shoe size", "color")),
            ("men's t-shirts", "Men › Clothing › Shirts › T-Shirts", "Men's T-Shirt", ("clothing size", "color")),
            ("yoga pants", "Women › Clothing › Active › Leggings", "Yoga Pants", ("clothing size", "color")),
            ("winter jackets", "Men › Clothing › Jackets & Coats", "Winter Jacket", ("clothing size", "color")),
            ("women's sandals", "Women › Shoes › Sandals", "Women's Sandals", ("shoe size", "color")),
            ("men's socks", "Men › Clothing › Socks", "Men's Socks", ("clothing size", "color")),
        ),
    ),
    "garden": (
        "Home & Kitchen",
        (
            "easy assembly",
            "solid wood",
            "living room",
            "space saving",
            "wood frame",
            "mid century",
            "eco friendly",
            "dining room",
            "storage space",
            "metal legs",
            "easy clean",
            "high density",
        ),
        (20.0, 900.0),
        (
            (
                "console tables",
                "Furniture › Living Room Furniture › Tables › Sofa & Console Tables",
                "Console Table",
                ("color",),
            ),
            ("sofas and couches", "Furniture › Living Room Furniture › Sofas & Couches", "Sofa Couch", ("color",)),
            ("bar stools", "Furniture › Kitchen & Dining Room Furniture › Stools", "Bar Stools", ("color", "length")),
            ("bookcases", "Furniture › Home Office Furniture › Bookcases", "Bookcase", ("color",)),
            (
                "throw pillow covers",
                "Home Décor Products › Decorative Pillows, Inserts & Covers",
                "Throw Pillow Covers",
                ("color", "length"),
            ),
            ("area rugs", "Home Décor Products › Area Rugs & Pads", "Area Rug", ("color",)),
            (
                "dining chairs",
                "Furniture › Kitchen & Dining Room Furniture › Chairs",
                "Dining Chairs",
                ("color", "pack"),
            ),
            ("shower curtains", "Bath › Shower Curtains, Hooks & Liners", "Shower Curtain", ("color",)),
        ),
    ),
    "grocery": (
        "Grocery & Gourmet Food",
        (
            "gluten free",
            "low sugar",
            "keto friendly",
            "non gmo",
            "high protein",
            "usda organic",
            "sugar free",
            "dairy free",
            "low calorie",
            "plant based",
            "individually wrapped",
            "low carb",
        ),
        (3.0, 50.0),
        (
            ("snack bars", "Snacks & Sweets › Snack Bars", "Snack Bars", ("flavor name", "count")),
            (
                "coffee beans",
                "Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans",
                "Whole Bean Coffee",
                ("flavor name", "count"),
            ),
            ("green tea", "Beverages › Coffee, Tea & Cocoa › Tea › Green", "Green Tea Bags", ("count",)),
            ("protein powder", "Pantry Staples › Baking › Protein Powders", "Protein Powder", ("flavor name", "count")),
            ("dark chocolate", "Snacks & Sweets › Chocolate › Bars", "Dark Chocolate Bars", ("count",)),
            ("olive oil", "Pantry Staples › Cooking Oils › Olive", "Extra Virgin Olive Oil", ("volume",)),
            ("beef jerky", "Meat & Seafood › Jerky & Dried Meats", "Beef Jerky", ("flavor name", "count")),
            ("granola", "Breakfast Foods › Cereals › Granola", "Granola Cereal", ("flavor name", "count")),
        ),
    ),
}

_SYLLABLES = ("lu", "ma", "ve", "xo", "ri", "ta", "no", "ka", "zen", "bel", "dor", "fi", "qua", "sol", "mi", "tru")
_REVIEW_BODIES = {
    5: ("Exactly as described, would buy again.", "Great quality for the price."),
    4: ("Works well, arrived quickly.", "Good value, minor issues with packaging."),
    3: ("It is okay, nothing special.", "Average quality, does the job."),
    2: ("Not what I expected.", "Quality could be better."),
    1: ("Stopped working after a week.", "Poor quality, returned it."),
}
_REVIEW_TITLES = {5: "Love it", 4: "Pretty good", 3: "Okay", 2: "Disappointed", 1: "Do not buy"}


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _asin(rng: random.Random, taken: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        asin = "B0" + "".join(rng.choice(alphabet) for _ in range(8))
        if asin not in taken:
            taken.add(asin)
            return asin


def _generate_product(rng: random.Random, category: str, taken: set[str]) -> Product:
    top, attribute_pool, (low, high), types = _CATEGORY_SPEC[category]
    query, path, noun, option_kinds = rng.choice(types)
    attributes = tuple(rng.sample(attribute_pool, rng.randint(2, 4)))
    in_title = attributes[: rng.randint(1, 2)]
    brand = _brand(rng)
    title = f"{brand} {' '.join(a.title() for a in in_title)} {noun}"
    options = []
    for kind in option_kinds:
        if rng.random() < 0.85:
            pool = _OPTION_VALUES[kind]
            values = tuple(rng.sample(pool, rng.randint(2, min(6, len(pool)))))
            options.append((_GROUP_NAME[kind], values))
    # round prices to cents; a range is shown "$a to $b" and priced inside it, as WebShop's loader does
    price = round(rng.uniform(low, high), 2)
    if rng.random() < 0.15:
        upper = round(price * rng.uniform(1.1, 1.5), 2)
        price_tag = f"${price} to ${upper}"
        price = round(rng.uniform(price, upper), 2)
    else:
        price_tag = f"${price}"
    rest = attributes[len(in_title) :]
    description = f"{title}. " + " ".join(f"This {noun.lower()} is {a}." for a in attributes)
    bullets = [f"{a.title()}: designed to be {a}." for a in rest]
    bullets.append(f"Brand: {brand}. Category: {query}.")
    reviews = []
    for _ in range(rng.randint(1, 3)):
        score = rng.choice((5, 5, 4, 4, 3, 2, 1))
        reviews.append((_REVIEW_TITLES[score], score, rng.choice(_REVIEW_BODIES[score])))
    rating = f"{sum(r[1] for r in reviews) / len(reviews):.1f}"
    return Product(
        asin=_asin(rng, taken),
        title=title,
        category=category,
        query=query,
        product_category=f"{top} › {path}",
        price=price,
        price_tag=price_tag,
        attributes=attributes,
        options=tuple(options),
        description=description,
        bullet_points=tuple(bullets),
        reviews=tuple(reviews),
        rating=rating,
    )


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


_OPTION_PHRASES = {
    "color": "in {} color",
    "size": "in size {}",
    "flavor name": "with {} flavor",
    "scent": "with {} scent",
}
_OPENINGS = (
    "i need {a} {t}{o}",
    "i'm looking for {a} {t}{o}",
    "find me {a} {t}{o}",
    "i want to buy {t} that are {a}{o}",
    "show me {t}, {a}{o}",
    "i am looking for {t} which is {a}{o}",
)


def _generate_goal(rng: random.Random, product: Product) -> Goal:
    k = rng.randint(1, min(3, len(product.attributes)))
    attributes = tuple(rng.sample(product.attributes, k))
    chosen: list[tuple[str, str]] = []
    for group, values in product.options:
        if rng.random() < 0.75:
            chosen.append((group, rng.choice(values)))
    options_text = "".join(
        ", " + _OPTION_PHRASES[g].format(v) if i else " " + _OPTION_PHRASES[g].format(v)
        for i, (g, v) in enumerate(chosen)
    )
    price_upper = price_upper_for(product.price, rng)
    price_text = f", and price lower than {price_upper:.2f} dollars" if price_upper != NO_PRICE_BOUND else ""
    text = rng.choice(_OPENINGS).format(a=_join(list(attributes)), t=product.query, o=options_text) + price_text
    return Goal(
        asin=product.asin,
        instruction_text=text,
        attributes=attributes,
        goal_options=tuple(v for _, v in chosen),
        price_upper=price_upper,
        category=product.category,
        query=product.query,
        name=product.title,
        product_category=product.product_category,
    )


@lru_cache(maxsize=4)
def generate_catalog(seed: int = 0, n_products: int = 1000, n_goals: int = 6000, n_test: int = 500) -> Catalog:
    """The generated catalog: ``n_products`` products (an equal share per category) and ``n_goals`` goals.

    Goals target products drawn uniformly; ``goals["test"]`` is the first ``n_test`` (the paper
    evaluates on 500), ``goals["train"]`` the rest. A pure function of its arguments (cached).
    """
    if n_products < len(CATEGORIES):
        raise ValueError(f"n_products must be at least {len(CATEGORIES)}, got {n_products}")
    if not 0 < n_test < n_goals:
        raise ValueError(f"need 0 < n_test < n_goals, got n_test={n_test}, n_goals={n_goals}")
    rng = random.Random(f"webshop-catalog-{seed}")
    taken: set[str] = set()
    products = [_generate_product(rng, CATEGORIES[i % len(CATEGORIES)], taken) for i in range(n_products)]
    goals = [_generate_goal(rng, rng.choice(products)) for _ in range(n_goals)]
    return Catalog(products=products, goals={"test": goals[:n_test], "train": goals[n_test:]}, noun_tagger="filter")


# --------------------------------------------------------------------------- the real WebShop data files


def _parse_price(pricing: str) -> tuple[list[float], str]:
    """WebShop's loader: every ``$`` amount of the pricing text; a range keeps the first two."""
    amounts = [float(Decimal(re.sub(r"[^\d.]", "", p))) for p in pricing.split("$")[1:] if re.sub(r"[^\d.]", "", p)]
    if not amounts:
        return [100.0], "$100.0"
    if len(amounts) == 1:
        return amounts, f"${amounts[0]}"
    return amounts[:2], f"${amounts[0]} to ${amounts[1]}"


def _real_product(record: dict, attributes: dict, rng: random.Random) -> Product:
    pricing, price_tag = _parse_price(record.get("pricing") or "")
    price = pricing[0] if len(pricing) == 1 else rng.uniform(*pricing)
    options: dict[str, tuple[str, ...]] = {}  # groups by lower-cased name, as the original's dict keeps them
    for name, contents in (record.get("customization_options") or {}).items():
        if contents is None:
            continue
        options[name.lower()] = tuple(c["value"].strip().replace("/", " | ").lower() for c in contents)
    bullets = record.get("small_description") or []
    if isinstance(bullets, str):
        bullets = [bullets]
    asin = record["asin"]
    return Product(
        asin=asin,
        title=record["name"],
        category=record["category"],
        query=record["query"].lower().strip(),
        product_category=record.get("product_category", ""),
        price=float(price),
        price_tag=price_tag,
        attributes=tuple(attributes.get(asin, {}).get("attributes") or ("DUMMY_ATTR",)),
        options=tuple(options.items()),
        description=record.get("full_description") or "",
        bullet_points=tuple(bullets),
        rating="N.A.",  # the original's text env loads no reviews file, so every item shows "Rating: N.A."
    )


REQUIRED_FIELDS = frozenset({"asin", "name", "category", "query"})


def _read_json(path: Path, kind: type) -> Any:
    """A WebShop data file's JSON, which must be a ``kind`` (list or dict); errors name the file."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"WebShop data file {path} is not valid JSON: {error}") from error
    if not isinstance(data, kind):
        raise ValueError(f"WebShop data file {path} must hold a JSON {kind.__name__}, got {type(data).__name__}")
    return data


def load_catalog(
    products_path: str | Path,
    attributes_path: str | Path,
    seed: int = 0,
    goal_set: str = "synthetic",
    human_goals_path: str | Path | None = None,
) -> Catalog:
    """Read WebShop's real data files into a :class:`Catalog`, with the goal list the original env builds.

    ``products_path`` is a list of product records in the ``items_shuffle*.json`` schema, ``attributes_path`` the
    ``items_ins_v2*.json`` attribute file. ``goal_set="synthetic"`` makes WebShop's synthetic goals (one per
    option combination of each product that carries an instruction, options as ``(name, value)`` pairs);
    ``"human"`` reads human goals from ``human_goals_path`` (``items_human_ins.json``: ``{asin: [{"instruction",
    "instruction_attributes", "instruction_options"}, ...]}``; goals without attributes are skipped, as there).
    Range prices and price bounds are drawn as the original's constructor draws them right after
    ``random.seed(seed)``, and the goals are then shuffled with ``random.seed(233)``, so goal ``i`` here is the
    original's session ``i``. ``goals["test"]`` holds the first 500, ``goals["train"]`` the rest.
    """
    if goal_set not in GOAL_SETS:
        raise ValueError(f"goal_set must be one of {GOAL_SETS}, got {goal_set!r}")
    paths = {"products": Path(products_path), "attributes": Path(attributes_path)}
    if goal_set == "human":
        if human_goals_path is None:
            raise ValueError("goal_set='human' needs human_goals_path (WebShop's items_human_ins.json)")
        paths["human goals"] = Path(human_goals_path)
    for what, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"WebShop {what} file not found: {path}")
    records, attributes = _read_json(paths["products"], list), _read_json(paths["attributes"], dict)
    rng = random.Random(seed)
    products, seen = [], set()
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not REQUIRED_FIELDS <= set(record):
            missing = sorted(REQUIRED_FIELDS - set(record)) if isinstance(record, dict) else "all"
            raise ValueError(
                f"WebShop products file {paths['products']}: record {index} lacks fields {missing} "
                f"(each record needs {sorted(REQUIRED_FIELDS)})"
            )
        asin = record.get("asin", "nan")
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue  # WebShop's loader skips these
        seen.add(asin)
        products.append(_real_product(record, attributes, rng))
    if goal_set == "human":
        goals = _human_goals(products, _read_json(paths["human goals"], dict), rng)
    else:
        goals = _synthetic_goals(products, attributes, rng)
    random.Random(GOAL_SHUFFLE_SEED).shuffle(goals)
    return Catalog(products=products, goals={"test": goals[:500], "train": goals[500:]})


def _price_bound(product: Product, rng: random.Random) -> tuple[float, str]:
    price_upper = price_upper_for(product.price, rng)
    text = f", and price lower than {price_upper:.2f} dollars" if price_upper != NO_PRICE_BOUND else ""
    return price_upper, text


def _goal(
    product: Product,
    text: str,
    attributes: Sequence[str],
    options: Sequence[GoalOption],
    price_upper: float,
    weight: float = 1.0,
) -> Goal:
    return Goal(
        asin=product.asin,
        instruction_text=text,
        attributes=tuple(attributes),
        goal_options=tuple(options),
        price_upper=price_upper,
        category=product.category,
        query=product.query,
        name=product.title,
        product_category=product.product_category,
        weight=weight,
    )


def _synthetic_goals(products: list[Product], attributes: dict, rng: random.Random) -> list[Goal]:
    goals = []
    for product in products:
        entry = attributes.get(product.asin, {})
        if not entry.get("instruction") or not entry.get("instruction_attributes"):
            continue
        price_upper, price_text = _price_bound(product, rng)
        groups = sorted(product.option_dict)
        combos: list[tuple[tuple[str, str], ...]] = [()]
        for group in groups:
            combos = [c + ((group, v),) for c in combos for v in product.option_dict[group]]
        for combo in combos:
            option_text = ", and ".join(f"{g}: {v}" for g, v in combo)
            option_text = f" with {option_text}" if option_text else ""
            text = entry["instruction"] + option_text + price_text
            goals.append(_goal(product, text, entry["instruction_attributes"], combo, price_upper))
    counts: dict[str, int] = {}
    for goal in goals:
        for attribute in goal.attributes:
            counts[attribute] = counts.get(attribute, 0) + 1
    return [
        dataclasses.replace(g, weight=sum(1.0 / counts[a] for a in g.attributes) / len(g.attributes)) for g in goals
    ]


def _human_goals(products: list[Product], human: dict, rng: random.Random) -> list[Goal]:
    goals = []
    for product in products:
        for index, entry in enumerate(human.get(product.asin) or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("instruction"), str):
                raise ValueError(f"human goal {index} of {product.asin} needs an 'instruction' string, got {entry!r}")
            if not entry.get("instruction_attributes"):
                continue  # the original skips goals without attributes
            price_upper, price_text = _price_bound(product, rng)
            text = entry["instruction"].strip(".") + price_text
            options = entry.get("instruction_options") or []
            goals.append(_goal(product, text, entry["instruction_attributes"], options, price_upper))
    return goals
