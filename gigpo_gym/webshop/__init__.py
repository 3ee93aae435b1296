"""WebShop-text-v0: the embedded WebShop site, its catalog generator, search, reward and expert."""

from .catalog import CATEGORIES, Catalog, Goal, Product, generate_catalog, load_catalog, price_upper_for
from .engine import WebShopEngine, default_query, parse_action
from .env import WebShopTextEnv, make_webshop_env
from .expert import expert_action
from .reward import purchase_reward
from .search import SearchEngine

__all__ = [
    "CATEGORIES",
    "Catalog",
    "Goal",
    "Product",
    "SearchEngine",
    "WebShopEngine",
    "WebShopTextEnv",
    "default_query",
    "expert_action",
    "generate_catalog",
    "load_catalog",
    "make_webshop_env",
    "parse_action",
    "price_upper_for",
    "purchase_reward",
]
