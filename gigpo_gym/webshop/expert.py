"""WebShop's scripted expert: search the goal's key words, open the target, choose the goal options, buy."""

from __future__ import annotations

from .engine import BACK_TO_SEARCH, BUY, NEXT, PREV, RESULTS_PER_PAGE, WebShopEngine

__all__ = ["expert_action", "keyword_query"]

MAX_RESULT_PAGES = 5  # WebShop returns at most 50 results


def keyword_query(engine: WebShopEngine) -> str:
    """The goal's key words: product type and goal attributes."""
    return " ".join([engine.goal.query, *engine.goal.attributes])


def expert_action(engine: WebShopEngine) -> str:
    """The expert's next action in ``engine``'s current state (it knows the target asin).

    The first search uses :func:`keyword_query`; when the target is not among its results, the
    expert goes back and searches the target's title instead.
    """
    goal, page = engine.goal, engine.page
    if page == "search":
        query = keyword_query(engine) if not engine.queries else engine.catalog.by_asin[goal.asin].title
        return f"search[{query}]"
    clickables = engine.available_actions()["clickables"]
    if page == "results":
        if goal.asin.lower() in clickables:
            return f"click[{goal.asin.lower()}]"
        if engine.page_num * RESULTS_PER_PAGE < len(engine.results) and engine.page_num < MAX_RESULT_PAGES:
            return f"click[{NEXT}]"
        return f"click[{BACK_TO_SEARCH}]"
    if page == "item_sub" or engine.asin != goal.asin:
        return f"click[{PREV}]"
    for group, values in engine.product.options:
        for wanted in goal.option_values:
            if wanted in values and engine.options.get(group) != wanted:
                return f"click[{wanted}]"
    return f"click[{BUY}]"
