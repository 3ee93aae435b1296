"""The WebShop site as a state machine: pages, clickables, transitions, text rendering and state keys.

Mirrors ``SimServer``/``SimBrowser`` of princeton-nlp/WebShop's text env with the page templates
rendered in its ``text`` (simple) observation mode: visible strings joined by ``" [SEP] "``.
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

__all__ = ["PAGES", "SUB_PAGES", "WebShopEngine", "default_query", "parse_action"]

PAGES = ("search", "results", "item", "item_sub", "done")
SUB_PAGES = ("description", "features", "reviews")
RESULTS_PER_PAGE = 10
SEP = " [SEP] "
ECHO_LIMIT = 200  # characters of an invalid action repeated in the observation
BACK_TO_SEARCH, PREV, NEXT, BUY = "back to search", "< prev", "next >", "buy now"
_ACTION = re.compile(r"(.+)\[(.+)\]", re.DOTALL)
_PRICE_CLAUSE = re.compile(r",? and price lower than [\d.]+ dollars$")


def parse_action(action: str) -> tuple[str, str | None]:
    """``"click[Buy Now]"`` -> ``("click", "buy now")``, as WebShop parses (argument lower-cased)."""
    match = _ACTION.fullmatch(action.strip())
    if match is None:
        return action.strip(), None
    name, arg = match.groups()
    return name.strip(), arg.strip().lower()


def default_query(goal: Goal) -> str:
    """The instruction without its price clause: the search listed among the admissible commands."""
    return _PRICE_CLAUSE.sub("", goal.instruction_text).strip()


@dataclass
class WebShopEngine:
    """One shopping session for ``goal`` over ``catalog``; ``step`` returns ``(text, reward, done, valid)``."""

    catalog: Catalog
    search_engine: SearchEngine
    goal: Goal
    goal_id: int
    page: str = "search"
    keywords: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    page_num: int = 1
    asin: str | None = None
    sub_page: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    reward: float = 0.0
    reward_info: dict[str, Any] | None = None

    # ------------------------------------------------------------------ clickables

    def available_actions(self) -> dict[str, Any]:
        """WebShop's ``get_available_actions``: whether a search bar is shown, and the clickables."""
        clickables: list[str] = []
        if self.page == "results":
            clickables.append(BACK_TO_SEARCH)
            if self.page_num > 1:
                clickables.append(PREV)
            if self.page_num * RESULTS_PER_PAGE < len(self.results):
                clickables.append(NEXT)
            clickables.extend(a.lower() for a in self._page_asins())
        elif self.page == "item":
            clickables.extend([BACK_TO_SEARCH, PREV])
            clickables.extend(v for _, values in self.product.options for v in values)
            clickables.extend([*SUB_PAGES, BUY])
        elif self.page == "item_sub":
            clickables.extend([BACK_TO_SEARCH, PREV])
        return {"has_search_bar": self.page == "search", "clickables": list(dict.fromkeys(clickables))}

    def admissible_commands(self, available: dict[str, Any] | None = None) -> list[str]:
        """Concrete commands: the instruction as search query on the search page, else every clickable.

        ``available`` is :meth:`available_actions` when the caller already has it.
        """
        available = available or self.available_actions()
        commands = [f"search[{default_query(self.goal)}]"] if available["has_search_bar"] else []
        return commands + [f"click[{c}]" for c in available["clickables"]]

    # ------------------------------------------------------------------ transitions

    @property
    def product(self) -> Product:
        return self.catalog.by_asin[self.asin]

    def _page_asins(self) -> tuple[str, ...]:
        start = (self.page_num - 1) * RESULTS_PER_PAGE
        return self.results[start : start + RESULTS_PER_PAGE]

    def step(self, action: str) -> tuple[str, float, bool, bool]:
        """Apply one ``search[...]``/``click[...]`` action; anything unavailable changes nothing."""
        name, arg = parse_action(action)
        available = self.available_actions()
        if name == "search" and arg and available["has_search_bar"]:
            self._search(arg)
        elif name == "click" and arg in available["clickables"]:
            self._click(arg)
        else:
            reason = "malformed" if arg is None or name not in ("search", "click") else "not available on this page"
            shown = action.strip()
            shown = shown if len(shown) <= ECHO_LIMIT else shown[:ECHO_LIMIT] + "..."  # the page, not the echo
            return f"Invalid action ({reason}): {shown!r}.{SEP}{self.render()}", 0.0, False, False
        return self.render(), self.reward if self.page == "done" else 0.0, self.page == "done", True

    def _search(self, query: str) -> None:
        self.keywords = tuple(query.split())
        self.queries.append(" ".join(self.keywords))
        self.results = self.search_engine.search(" ".join(self.keywords))
        self.page, self.page_num, self.asin, self.sub_page, self.options = "results", 1, None, None, {}

    def _click(self, target: str) -> None:
        if target == BACK_TO_SEARCH:
            self.page, self.keywords, self.results, self.page_num = "search", (), (), 1
            self.asin, self.sub_page, self.options = None, None, {}
        elif self.page == "results":
            if target in (NEXT, PREV):
                self.page_num += 1 if target == NEXT else -1
            else:
                self.page, self.asin, self.options = "item", target.upper(), {}
        elif self.page == "item_sub":  # only "< prev" is left: back to the item page, options kept
            self.page, self.sub_page = "item", None
        elif target == PREV:  # item page -> the results page it came from
            self.page, self.asin, self.options = "results", None, {}
        elif target in SUB_PAGES:
            self.page, self.sub_page = "item_sub", target
        elif target == BUY:
            self.reward, self.reward_info = purchase_reward(self.product, self.goal, self.options)
            self.page = "done"
        else:  # an option value: the last group offering it wins, as in WebShop's clickable map
            group = [g for g, values in self.product.options if target in values][-1]
            self.options[group] = target

    # ------------------------------------------------------------------ rendering and state

    def render(self) -> str:
        """The page in WebShop's simple text mode."""
        instruction = f"Instruction:{SEP}{self.goal.instruction_text}"
        if self.page == "search":
            return SEP.join(["WebShop", instruction, "Search"])
        if self.page == "results":
            parts = [instruction, "Back to Search", f"Page {self.page_num} (Total results: {len(self.results)})"]
            buttons = self.available_actions()["clickables"]
            parts += [label for key, label in ((PREV, "< Prev"), (NEXT, "Next >")) if key in buttons]
            for asin in self._page_asins():
                product = self.catalog.by_asin[asin]
                parts += [asin, product.title, product.price_tag]
            return SEP.join(parts)
        if self.page == "done":
            options = json.dumps(self.options, sort_keys=True)
            return SEP.join(
                ["Thank you for shopping with us!", "Purchased", "asin", self.asin, "options", options,
                 "Your score (min 0.0, max 1.0)", f"{self.reward}"]
            )  # fmt: skip
        product = self.product
        parts = [instruction, "Back to Search", "< Prev"]
        if self.page == "item":
            for group, values in product.options:
                parts += [group, *values]
            parts += [product.title, f"Price: {product.price_tag}", f"Rating: {product.rating}"]
            parts += ["Description", "Features", "Reviews", "Buy Now"]
        elif self.sub_page == "description":
            parts.append(product.description)
        elif self.sub_page == "features":
            parts += list(product.bullet_points)
        else:
            for title, score, body in product.reviews:
                parts += [title, str(score), body]
        return SEP.join(parts)

    def state_key(self) -> tuple:
        """Canonical web state: goal, page, normalised query, page number, item, sub-page, chosen options."""
        return (
            self.goal_id,
            self.page,
            " ".join(self.keywords),
            self.page_num,
            self.asin,
            self.sub_page,
            tuple(sorted(self.options.items())),
        )

    def state_hash(self) -> str:
        return canonical_hash(self.state_key())
