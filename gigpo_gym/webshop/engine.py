"""The WebShop site as a state machine: pages, clickables, transitions, text rendering and state keys.

Follows ``SimServer``/``SimBrowser`` of princeton-nlp/WebShop's text env (``web_agent_text_env.py``) with its page
templates as its ``text`` (simple) observation mode renders them: every visible text node, stripped, joined by
``" [SEP] "``. Clickables are listed as the original lists them (buttons in page order, then product links, then
option values), an unknown action changes nothing, and ``search[...]`` works on every page, the done page
included, although only the search page shows a search bar (``search_only_on_search_page=True`` refuses it
elsewhere).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..hashing import canonical_hash
from .catalog import Catalog, Goal, Product
from .reward import purchase_reward
from .search import SearchEngine

__all__ = ["PAGES", "SUB_PAGES", "WebShopEngine", "default_query", "options_json", "parse_action"]

PAGES = ("search", "results", "item", "item_sub", "done")
SUB_PAGES = ("description", "features", "reviews")
RESULTS_PER_PAGE = 10
SEP = " [SEP] "
ECHO_LIMIT = 200  # characters of an invalid action repeated in the observation (invalid_action_note=True)
BACK_TO_SEARCH, PREV, NEXT, BUY, SEARCH = "back to search", "< prev", "next >", "buy now", "search"
_PRICE_CLAUSE = re.compile(r",? and price lower than [\d.]+ dollars$")
# the done page's hidden template blocks, which the text mode shows (the goal fields are not passed to it)
_DONE_PURCHASE = [
    "attrs",
    "None",
    "category",
    "None",
    "query",
    "None",
    "product category",
    "None",
    "Target",
    "asin",
    "options",
    "attrs",
    "price upper",
    "instuction text",
    "category",
    "product category",
    "query",
    "Goal",
    "None",
    "Reward",
    "Your score (min 0.0, max 1.0)",
]


def parse_action(action: str) -> tuple[str, str | None]:
    """``"click[Buy Now]"`` -> ``("click", "buy now")``, as WebShop parses: ``(.+)\\[(.+)\\]`` from the start, one
    line, the argument lower-cased, nothing stripped; ``(action, None)`` when that does not match."""
    # what that regular expression matches, found in linear time (the expression backtracks quadratically: an
    # action of 200,000 "[" took minutes): "." stops at a newline, so the match lies on the first line; the
    # greedy groups take the last "]" of that line and the last "[" at least two characters before it, past the
    # first character
    line = action.split("\n", 1)[0]
    close = line.rfind("]")
    start = line.rfind("[", 1, close - 1) if close >= 3 else -1
    if start < 1:
        return action, None
    return line[:start], line[start + 1 : close].lower()


def default_query(goal: Goal) -> str:
    """The instruction without its price clause: the search listed among the admissible commands."""
    return _PRICE_CLAUSE.sub("", goal.instruction_text).strip()


def options_json(options: dict[str, str]) -> str:
    """The chosen options as the done page prints them (Flask's ``tojson``: sorted keys, ASCII, HTML-safe)."""
    text = json.dumps(options, sort_keys=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return text


def _node(text: str) -> list[str]:
    """One template value as the text mode shows it: stripped; blank with a line break dropped, other blank kept."""
    if not text:
        return []
    if not text.strip():
        return [] if "\n" in text else [""]
    return [text.strip()]


@dataclass
class WebShopEngine:
    """One shopping session for ``goal`` over ``catalog``; ``step`` returns ``(text, reward, done, valid)``."""

    catalog: Catalog
    search_engine: SearchEngine
    goal: Goal
    goal_id: int
    search_only_on_search_page: bool = False
    invalid_action_note: bool = False
    page: str = "search"
    query: str | None = None
    results: tuple[str, ...] = ()
    page_num: int = 1
    asin: str | None = None
    sub_page: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    reward: float = 0.0
    reward_info: dict[str, Any] | None = None

    # ------------------------------------------------------------------ clickables

    def _clickable_map(self) -> dict[str, str | None]:
        """Clickable text -> the option group it sets (None for a button or product link), in the original's order.

        A text offered twice keeps its first place and takes the last element's meaning, as a dict does there.
        """
        targets: dict[str, str | None] = {}
        if self.page == "search":
            targets[SEARCH] = None
        elif self.page == "results":
            buttons = [BACK_TO_SEARCH, PREV, NEXT] if self.page_num > 1 else [BACK_TO_SEARCH, NEXT]
            for text in buttons + [a.lower() for a in self._page_asins()]:
                targets[text] = None
        elif self.page == "item":
            for text in (BACK_TO_SEARCH, PREV, *SUB_PAGES, BUY):
                targets[text] = None
            for group, values in self.product.options:
                for value in values:
                    targets[value] = group
        elif self.page == "item_sub":
            targets[BACK_TO_SEARCH] = targets[PREV] = None
        return targets

    def available_actions(self) -> dict[str, Any]:
        """WebShop's ``get_available_actions``: whether a search bar is shown, and the clickables."""
        return {"has_search_bar": self.page == "search", "clickables": list(self._clickable_map())}

    def admissible_commands(self, available: dict[str, Any] | None = None) -> list[str]:
        """Concrete commands: the instruction as search query on the search page, then every clickable but the
        search button (which the original refuses).

        ``available`` is :meth:`available_actions` when the caller already has it.
        """
        available = available or self.available_actions()
        commands = [f"search[{default_query(self.goal)}]"] if available["has_search_bar"] else []
        return commands + [f"click[{c}]" for c in available["clickables"] if c != SEARCH]

    # ------------------------------------------------------------------ transitions

    @property
    def product(self) -> Product:
        assert self.asin is not None, "no product is open"  # only item pages and the done page ask
        return self.catalog.by_asin[self.asin]

    def _page_asins(self) -> tuple[str, ...]:
        start = (self.page_num - 1) * RESULTS_PER_PAGE
        return self.results[start : start + RESULTS_PER_PAGE]

    def step(self, action: str) -> tuple[str, float, bool, bool]:
        """Apply one ``search[...]``/``click[...]`` action; anything else changes nothing (reward 0, not done)."""
        name, arg = parse_action(action)
        targets = self._clickable_map()
        searchable = self.page == "search" or not self.search_only_on_search_page
        reward, done = 0.0, False
        if name == "search" and arg and searchable:
            self.queries.append(arg)
            self._show_results(arg, page_num=1)
        elif name == "click" and arg in targets and arg != SEARCH:
            if arg == BUY and targets[arg] is None:
                tagger = self.catalog.noun_tagger
                self.reward, self.reward_info = purchase_reward(self.product, self.goal, self.options, tagger)
                self.page, reward, done = "done", self.reward, True
            else:
                self._click(arg, targets[arg])
        else:
            text = self.render()
            if self.invalid_action_note:
                shown = action.strip()
                shown = shown if len(shown) <= ECHO_LIMIT else shown[:ECHO_LIMIT] + "..."
                reason = "malformed" if arg is None or name not in ("search", "click") else "not available here"
                text = f"Invalid action ({reason}): {shown!r}.{SEP}{text}"
            return text, 0.0, False, False
        return self.render(), reward, done, True

    def _show_results(self, query: str, page_num: int) -> None:
        # searching, paging and "< prev" from an item page all re-run the search and clear the item and options
        self.query, self.results = query, self.search_engine.search(query)
        self.page, self.page_num, self.asin, self.sub_page, self.options = "results", page_num, None, None, {}

    def _click(self, target: str, group: str | None) -> None:
        if group is not None:  # an option value: its group takes it (the last click in a group wins)
            self.options[group] = target
        elif target == BACK_TO_SEARCH:
            self.page, self.query, self.results, self.page_num = "search", None, (), 1
            self.asin, self.sub_page, self.options = None, None, {}
        elif self.page == "results" and target in (NEXT, PREV):
            assert self.query is not None  # a results page is the answer to a search
            self._show_results(self.query, self.page_num + (1 if target == NEXT else -1))
        elif self.page == "results":
            self.page, self.asin = "item", target.upper()
        elif self.page == "item_sub":  # only "< prev" is left: back to the item page, options kept
            self.page, self.sub_page = "item", None
        elif target == PREV:  # item page -> the results page it came from, options cleared
            assert self.query is not None  # an item page is reached from a results page
            self._show_results(self.query, self.page_num)
        else:  # description, features, reviews
            self.page, self.sub_page = "item_sub", target

    # ------------------------------------------------------------------ rendering and state

    def render(self) -> str:
        """The page in WebShop's simple text mode."""
        instruction = ["Instruction:", *_node(self.goal.instruction_text)]
        if self.page == "search":
            return SEP.join(["WebShop", *instruction, "Search"])
        if self.page == "done":
            assert self.asin is not None  # the done page follows a purchase
            return SEP.join(
                [
                    "Thank you for shopping with us!",
                    "Your code:",
                    "None",
                    "(Paste it in your MTurk interface.)",
                    "Purchased",
                    "asin",
                    self.asin,
                    "options",
                    options_json(self.options),
                    *_DONE_PURCHASE,
                    repr(self.reward),
                    "Reward Details",
                    "None",
                ]
            )
        parts = [*instruction, "Back to Search"]
        if self.page == "results":
            parts.append(f"Page {self.page_num} (Total results: {len(self.results)})")
            parts += ["< Prev", "Next >"] if self.page_num > 1 else ["Next >"]
            for asin in self._page_asins():
                product = self.catalog.by_asin[asin]
                parts += [*_node(asin), *_node(product.title), *_node(product.price_tag)]
            return SEP.join(parts)
        product = self.product
        parts.append("< Prev")
        if self.page == "item":
            for group, values in product.options:
                parts += _node(group)
                for value in values:
                    parts += _node(value)
            parts += [*_node(product.title), f"Price: {product.price_tag}".strip(), f"Rating: {product.rating}".strip()]
            parts += ["Description", "Features", "Reviews", "Buy Now"]
        elif self.sub_page == "description":
            parts += _node(product.description)
        elif self.sub_page == "features":
            for bullet in product.bullet_points:
                parts += _node(" " + bullet)
        else:
            for title, score, body in product.reviews:
                parts += [*_node(f'"{title}"'), *_node(str(score)), *_node(body)]
        return SEP.join(parts)

    def state_key(self) -> tuple:
        """Canonical web state: goal, page, normalised query, page number, item, sub-page, chosen options."""
        return (
            self.goal_id,
            self.page,
            None if self.query is None else " ".join(self.query.split()),
            self.page_num,
            self.asin,
            self.sub_page,
            tuple(sorted(self.options.items())),
        )

    def state_hash(self) -> str:
        return canonical_hash(self.state_key())
