"""WebShop's product search: BM25 with Lucene's scoring, English stop words and Porter stemming.

The original indexes ``lower(title + description + first bullet point + option values)`` with
Pyserini/Lucene (k1=0.9, b=0.4, English analyser) and returns at most 50 documents that match a
query term. This module does the same with ``bm25s`` (``method="lucene"``) and PyStemmer's Porter
stemmer, which rank like Lucene on small tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from .catalog import Product

__all__ = ["MAX_RESULTS", "SearchEngine", "analyse", "product_document"]

MAX_RESULTS = 50  # WebShop's SEARCH_RETURN_N
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(STOPWORDS_EN)  # Lucene's 33 English stop words
_STEMMER = Stemmer.Stemmer("porter")


def analyse(text: str) -> list[str]:
    """Lower-case, split on non-alphanumerics, drop stop words, Porter-stem: the index's analyser."""
    return _STEMMER.stemWords([t for t in _TOKEN.findall(text.lower()) if t not in _STOP])


def product_document(product: Product) -> str:
    """The text WebShop indexes for a product."""
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    option_text = " ".join(v for _, values in product.options for v in values)
    return " ".join((product.title, product.description, first_bullet, option_text)).lower()


class SearchEngine:
    """Ranked keyword search over a product list; ``search(query)`` gives matching asins, best first.

    Ties keep catalog order, so results are deterministic. Results of a query are cached (the
    engine is read-only), which is what makes repeated group rollouts cheap.
    """

    def __init__(self, products: Sequence[Product], k1: float = 0.9, b: float = 0.4) -> None:
        if not products:
            raise ValueError("SearchEngine needs at least one product")
        self.asins = [p.asin for p in products]
        self._bm25 = bm25s.BM25(method="lucene", k1=k1, b=b)
        self._bm25.index([analyse(product_document(p)) for p in products], show_progress=False)
        self._vocab = self._bm25.vocab_dict
        self.search = lru_cache(maxsize=65536)(self._search)

    def _search(self, query: str) -> tuple[str, ...]:
        terms = [t for t in analyse(query) if t in self._vocab]
        if not terms:
            return ()
        scores = self._bm25.get_scores(terms)
        hits = np.flatnonzero(scores > 0)
        # stable sort on -score keeps catalog order among ties
        order = hits[np.argsort(-scores[hits], kind="stable")][:MAX_RESULTS]
        return tuple(self.asins[i] for i in order)
